import { unavailable } from '@mindweave/errors';
import { postAsService } from '@mindweave/service-kit';
import { env } from './env.ts';

/** A user's email, asked of the identity subgraph (which owns users); null for an unknown user. */
export async function emailOf(userId: string, requestId: string): Promise<string | null> {
  const response = await postAsService(new URL('/internal/users', env.IDENTITY_INTERNAL_URL), {
    signingSecret: env.INTERNAL_SIGNING_SECRET,
    service: 'accounts',
    requestId,
    body: { ids: [userId] },
    timeoutMs: 3_000,
  }).catch(() => null);
  if (!response?.ok) throw unavailable('Could not look up your email right now; try again');
  const { users } = (await response.json()) as { users: { id: string; email: string }[] };
  return users.find((user) => user.id === userId)?.email ?? null;
}
