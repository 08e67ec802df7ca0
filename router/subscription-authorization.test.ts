import { describe, expect, it } from 'vitest';
import type { Identity } from '@mindweave/service-kit';
import type { MembershipList } from './memberships.ts';
import { authorizeSubscription } from './subscription-authorization.ts';

const key = (organizationId: string, scopes: string[]): Identity => ({
  kind: 'apiKey',
  apiKeyId: 'k',
  projectId: 'p',
  organizationId,
  scopes,
});
const user: Identity = { kind: 'user', userId: 'u1' };

/** A lookup answering `cached` unless asked for a fresh answer; records what it was asked. */
function lookupOf(cached: MembershipList | null, fresh: MembershipList | null = cached) {
  const asked: boolean[] = [];
  return {
    asked,
    of: (_userId: string, isFresh = false) => {
      asked.push(isFresh);
      return Promise.resolve(isFresh ? fresh : cached);
    },
  };
}

describe('authorizeSubscription', () => {
  it('lets an API key watch its own organization with usage:read, and nothing else', async () => {
    const lookup = lookupOf([]);
    expect(await authorizeSubscription(lookup, key('o1', ['usage:read']), 'o1')).toEqual({ verdict: 'allowed', memberships: '' });
    expect((await authorizeSubscription(lookup, key('o1', ['usage:read']), 'o2')).verdict).toBe('denied');
    expect((await authorizeSubscription(lookup, key('o1', ['usage:write']), 'o1')).verdict).toBe('denied');
    expect(lookup.asked).toEqual([]);
  });

  it('refuses anonymous callers and services', async () => {
    const lookup = lookupOf(['o1:OWNER']);
    expect((await authorizeSubscription(lookup, { kind: 'anonymous' }, 'o1')).verdict).toBe('denied');
    expect((await authorizeSubscription(lookup, { kind: 'service', service: 's' }, 'o1')).verdict).toBe('denied');
  });

  it('lets a member watch, with their memberships as what decides what they see', async () => {
    const lookup = lookupOf(['o1:ADMIN', 'o2:MEMBER']);
    expect(await authorizeSubscription(lookup, user, 'o2')).toEqual({ verdict: 'allowed', memberships: 'o1:ADMIN,o2:MEMBER' });
    expect(lookup.asked).toEqual([false]);
  });

  it('asks afresh when the cached answer says not a member: the user may have just joined', async () => {
    const joined = lookupOf(['o1:ADMIN'], ['o1:ADMIN', 'o2:MEMBER']);
    expect((await authorizeSubscription(joined, user, 'o2')).verdict).toBe('allowed');
    expect(joined.asked).toEqual([false, true]);
    const never = lookupOf(['o1:ADMIN']);
    expect(await authorizeSubscription(never, user, 'o2')).toEqual({ verdict: 'denied', memberships: 'o1:ADMIN' });
  });

  it('answers unknown when accounts cannot tell', async () => {
    expect(await authorizeSubscription(lookupOf(null), user, 'o1')).toEqual({ verdict: 'unknown', memberships: '' });
    expect((await authorizeSubscription(lookupOf(['o1:ADMIN'], null), user, 'o2')).verdict).toBe('unknown');
  });
});
