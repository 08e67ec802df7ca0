import { describe, expect, it } from 'vitest';
import { ErrorCode, MindweaveError } from '@mindweave/errors';
import type { Identity } from '@mindweave/service-kit';
import type { EdgeInfo } from './context.ts';
import type { Admission } from './edge.ts';
import type { MembershipList } from './memberships.ts';
import { admitSubscription } from './subscription-admission.ts';

const user: Identity = { kind: 'user', userId: 'u' };
const request = { query: 'subscription { usageUpdated(organizationId: "o1") { id } }' };
const info = (denied: { path: string[] }[] = []) => ({ denied }) as unknown as EdgeInfo;

function servicesOf(admission: Admission, memberships: MembershipList | null = ['o1:MEMBER']) {
  const admitted: unknown[][] = [];
  return {
    admitted,
    services: {
      edge: {
        admit: (...args: unknown[]) => {
          admitted.push(args);
          return Promise.resolve(admission);
        },
      },
      membershipLookup: { of: () => Promise.resolve(memberships) },
    },
  };
}
const allowed = (edgeInfo = info()): Admission => ({
  ok: true,
  requests: [request],
  edge: new Map([[request.query, edgeInfo]]),
  headers: {},
});

describe('admitSubscription', () => {
  it("admits a member, with the edge's information and their memberships, judging the document as one request", async () => {
    const edgeInfo = info();
    const { services, admitted } = servicesOf(allowed(edgeInfo));
    expect(await admitSubscription(services, user, 'ip', request, 'o1')).toEqual({ ok: true, info: edgeInfo, memberships: 'o1:MEMBER' });
    expect(admitted).toEqual([[user, 'ip', [request], false]]);
  });

  it("answers the edge's refusal as it is", async () => {
    const error = new MindweaveError(ErrorCode.RATE_LIMITED, 'Too many requests');
    const { services } = servicesOf({ ok: false, status: 429, error, headers: {} });
    expect(await admitSubscription(services, user, 'ip', request, 'o1')).toEqual({ ok: false, errors: [error] });
  });

  it('refuses the whole subscription for any field the caller may not see, naming them all', async () => {
    const { services } = servicesOf(allowed(info([{ path: ['usageUpdated', 'secret'] }, { path: ['usageUpdated', 'key'] }])));
    const refused = await admitSubscription(services, { kind: 'anonymous' }, 'ip', request, 'o1');
    if (refused.ok) throw new Error('admitted');
    expect(refused.errors.map((e) => [e.extensions['code'], e.message])).toEqual([
      ['UNAUTHENTICATED', 'Sign in to see usageUpdated.secret, usageUpdated.key'],
    ]);
  });

  it('refuses an organization the caller may not watch: an anonymous caller to sign in, others as forbidden', async () => {
    const { services } = servicesOf(allowed(), ['o2:MEMBER']);
    const forbidden = await admitSubscription(services, user, 'ip', request, 'o1');
    expect(forbidden.ok ? [] : forbidden.errors.map((e) => e.extensions['code'])).toEqual([ErrorCode.FORBIDDEN]);
    const anonymous = await admitSubscription(services, { kind: 'anonymous' }, 'ip', request, 'o1');
    expect(anonymous.ok ? [] : anonymous.errors.map((e) => e.extensions['code'])).toEqual([ErrorCode.UNAUTHENTICATED]);
  });

  it('asks to subscribe again when accounts cannot tell', async () => {
    const { services } = servicesOf(allowed(), null);
    const unknown = await admitSubscription(services, user, 'ip', request, 'o1');
    expect(unknown.ok ? [] : unknown.errors.map((e) => [e.extensions['code'], e.message])).toEqual([
      [ErrorCode.UNAVAILABLE, 'Could not check access to this organization right now; subscribe again'],
    ]);
  });
});
