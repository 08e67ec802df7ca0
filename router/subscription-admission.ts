import type { GraphQLError } from 'graphql';
import { ErrorCode, MindweaveError, unauthenticated, unavailable } from '@mindweave/errors';
import type { Identity } from '@mindweave/service-kit';
import type { EdgeInfo } from './context.ts';
import type { Edge, OperationRequest } from './edge.ts';
import { refusalOf } from './edge-response.ts';
import type { MembershipLookup } from './memberships.ts';
import { authorizeSubscription } from './subscription-authorization.ts';

export type SubscriptionAdmission =
  | { ok: true /** What the edge learned of the document, for usage reporting. */; info: EdgeInfo | undefined; memberships: string }
  | { ok: false; errors: GraphQLError[] };

/**
 * Judges a subscription once, when it is subscribed: events are resolved with executeOperation,
 * which the HTTP edge never sees. The edge's limits, cost and rate apply as to an HTTP operation;
 * a field the caller may not see refuses the whole subscription; then the caller must be allowed
 * to watch the organization.
 */
export async function admitSubscription(
  services: { edge: Pick<Edge, 'admit'>; membershipLookup: Pick<MembershipLookup, 'of'> },
  identity: Identity,
  ip: string,
  request: OperationRequest,
  organizationId: string,
): Promise<SubscriptionAdmission> {
  const admission = await services.edge.admit(identity, ip, [request], false);
  if (!admission.ok) return { ok: false, errors: [admission.error] };
  const denied = [...admission.edge.values()].flatMap((info) => info.denied);
  if (denied.length) {
    const { code, message } = refusalOf(identity);
    return { ok: false, errors: [new MindweaveError(code, `${message} ${denied.map((d) => d.path.join('.')).join(', ')}`)] };
  }
  const { verdict, memberships } = await authorizeSubscription(services.membershipLookup, identity, organizationId);
  if (verdict === 'denied')
    return {
      ok: false,
      errors: [
        identity.kind === 'anonymous'
          ? unauthenticated('Sign in to watch an organization')
          : new MindweaveError(ErrorCode.FORBIDDEN, 'Not allowed to watch this organization'),
      ],
    };
  if (verdict === 'unknown')
    return { ok: false, errors: [unavailable('Could not check access to this organization right now; subscribe again')] };
  return { ok: true, info: [...admission.edge.values()][0], memberships };
}
