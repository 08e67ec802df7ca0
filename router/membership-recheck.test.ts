import { describe, expect, it } from 'vitest';
import { recheckMembers } from './membership-recheck.ts';
import type { MembershipList } from './memberships.ts';
import { createConnections } from './subscription-connections.ts';
import type { Subscriber } from './subscription-delivery.ts';
import { fakeSocket, fakeSubscriber } from './fixtures/subscription-fakes.ts';

function setup(answers: Map<string, MembershipList> | null) {
  const connections = createConnections();
  const asked: string[][] = [];
  const joins: { subscriber: Subscriber; audience: string }[] = [];
  const options = {
    connections,
    membershipLookup: {
      ofMany: (userIds: string[]) => {
        asked.push(userIds);
        return Promise.resolve(answers);
      },
    },
    delivery: { join: (subscriber: Subscriber, audience: string) => void joins.push({ subscriber, audience }) },
  };
  const userConnection = (userId: string) => {
    const { socket, closes } = fakeSocket();
    return { connection: connections.open(socket, { identity: { kind: 'user', userId } }, undefined), closes };
  };
  return { options, asked, joins, userConnection };
}

describe('recheckMembers', () => {
  it('asks only about subscribed users, every one of them when none are named', async () => {
    const { options, asked, userConnection } = setup(new Map());
    fakeSubscriber(userConnection('a').connection, 'o1');
    userConnection('b');
    await recheckMembers(options);
    await recheckMembers(options, ['b', 'a', 'c']);
    expect(asked).toEqual([['a'], ['a']]);
  });

  it("moves a member to their new audience's group, and closes the connection of one who left", async () => {
    const { options, joins, userConnection } = setup(
      new Map([
        ['stays', ['o1:MEMBER']],
        ['left', ['o2:ADMIN']],
      ]),
    );
    const stays = userConnection('stays');
    const left = userConnection('left');
    const staying = fakeSubscriber(stays.connection, 'o1');
    fakeSubscriber(left.connection, 'o1');
    fakeSubscriber(left.connection, 'o1');
    await recheckMembers(options);
    expect(joins).toEqual([{ subscriber: staying, audience: 'members:o1:MEMBER' }]);
    expect(stays.closes).toEqual([]);
    expect(left.closes).toEqual([{ code: 4403, reason: 'Forbidden: no longer a member of the organization' }]);
  });

  it("keeps a selection that reaches User the user's own", async () => {
    const { options, joins, userConnection } = setup(new Map([['u', ['o1:MEMBER']]]));
    fakeSubscriber(userConnection('u').connection, 'o1', true);
    await recheckMembers(options);
    expect(joins[0]?.audience).toBe('user:u');
  });

  it('changes nothing while accounts cannot answer', async () => {
    const { options, joins, userConnection } = setup(null);
    const u = userConnection('u');
    fakeSubscriber(u.connection, 'o1');
    await recheckMembers(options);
    expect(joins).toEqual([]);
    expect(u.closes).toEqual([]);
  });
});
