import { unavailable } from '@mindweave/errors';
import { usersRoute } from '@mindweave/identity/internal-routes';
import { callInternalRoute } from '@mindweave/service-kit';
import { env } from './env.ts';

/** A user's email, asked of the identity subgraph (which owns users); null for an unknown user. */
export async function emailOf(userId: string, requestId: string): Promise<string | null> {
  const answer = await callInternalRoute(
    usersRoute,
    { baseUrl: env.IDENTITY_INTERNAL_URL, signingSecret: env.INTERNAL_SIGNING_SECRET, service: 'accounts', requestId, timeoutMs: 3_000 },
    { ids: [userId] },
  ).catch(() => null);
  if (!answer) throw unavailable('Could not look up your email right now; try again');
  return answer.users.find((user) => user.id === userId)?.email ?? null;
}
