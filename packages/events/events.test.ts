import { describe, expect, expectTypeOf, it } from 'vitest';
import { createEvent, organizationOf, parseEnvelope, usersWhoseMembershipsChanged, type EventData, type EventEnvelope } from './events.ts';

describe('event envelopes', () => {
  it('narrow data by type: a switch on type gives that type its payload, without casts', () => {
    const events: EventEnvelope[] = [
      createEvent('user.created', 'u1', { userId: 'u1', email: 'a@example.com', name: 'A', verificationUrl: 'https://x/verify' }),
      createEvent('organization.deleted', 'o1', { organizationId: 'o1', memberUserIds: ['u1', 'u2'] }),
    ];
    const seen: string[] = [];
    for (const event of events) {
      switch (event.type) {
        case 'user.created':
          expectTypeOf(event.data).toEqualTypeOf<EventData<'user.created'>>();
          seen.push(event.data.email);
          break;
        case 'organization.deleted':
          expectTypeOf(event.data).toEqualTypeOf<EventData<'organization.deleted'>>();
          seen.push(...event.data.memberUserIds);
          break;
        default:
          break;
      }
    }
    expect(seen).toEqual(['a@example.com', 'u1', 'u2']);
    expect(usersWhoseMembershipsChanged(events[1]!)).toEqual(['u1', 'u2']);
  });

  it("reads the organization of events that name one, and of none that don't", () => {
    expect(organizationOf(createEvent('policy.changed', 'p1', { organizationId: 'o1', policyId: 'p1' }))).toBe('o1');
    expect(
      organizationOf(createEvent('user.created', 'u1', { userId: 'u1', email: 'a@example.com', name: 'A', verificationUrl: 'https://x' })),
    ).toBeUndefined();
    // What a transport hands over is checked against its type's payload.
    const read = parseEnvelope(JSON.parse(JSON.stringify(createEvent('policy.changed', 'p1', { organizationId: 'o2', policyId: 'p1' }))));
    expect(read.type === 'policy.changed' && read.data.organizationId).toBe('o2');
    expect(() => parseEnvelope({ ...read, data: { policyId: 'p1' } })).toThrow();
  });
});
