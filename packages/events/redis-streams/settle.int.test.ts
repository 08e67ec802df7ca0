import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deadLetterOf, topicOf } from '../events.ts';
import { createSettler, execAll } from './settle.ts';
import { silentLog } from './fixtures/fakes.ts';
import { usageEvent } from '../fixtures/usage-event.ts';
import { testRedis, type TestRedis } from './fixtures/redis.ts';

const group = 'settle-test';
let t: TestRedis;
beforeEach(async () => {
  t = await testRedis();
  await Promise.all([t.group('usage', group), t.group('policy', group)]);
});
afterEach(() => t.cleanup());

const settlerOf = () =>
  createSettler({ redis: t.redis, domains: ['usage', 'policy'], group, consumer: 'c1', maxLength: 1_000, log: silentLog });

const fieldsOf = (fields: string[]) => Object.fromEntries(fields.flatMap((value, i) => (i % 2 === 0 ? [[value, fields[i + 1]]] : [])));

describe('settle: acknowledging entries and dead-lettering events', () => {
  it('acknowledges just the given entries, on each domain’s stream', async () => {
    const usageIds = await t.publish('usage', [usageEvent()], [usageEvent()]);
    const policyIds = await t.publish('policy', [usageEvent()]);
    await Promise.all([t.readAs('usage', group, 'c1'), t.readAs('policy', group, 'c1')]);
    await settlerOf().ack([
      { domain: 'usage', id: usageIds[1]! },
      { domain: 'policy', id: policyIds[0]! },
    ]);
    expect((await t.pending('usage', group)).map(({ id }) => id)).toEqual([usageIds[0]]);
    expect(await t.pending('policy', group)).toEqual([]);
  });

  it('writes each rejected event to its domain’s dead-letter stream, with where it came from, and acknowledges the entries', async () => {
    const [id] = await t.publish('usage', [usageEvent()]);
    await t.readAs('usage', group, 'c1');
    await settlerOf().settle(
      [{ domain: 'usage', id: id!, raw: '{"bad":1}', reason: 'bad event', deliveries: 4 }],
      [{ domain: 'usage', id: id! }],
    );
    const deadLetters = await t.redis.xrange(deadLetterOf('usage'), '-', '+');
    expect(deadLetters.map(([, fields]) => fieldsOf(fields))).toEqual([
      {
        envelope: '{"bad":1}',
        reason: 'bad event',
        stream: topicOf('usage'),
        entryId: id,
        group,
        consumer: 'c1',
        deliveries: '4',
        deadLetteredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
    expect(await t.pending('usage', group)).toEqual([]);
  });

  it('dead-letters without acknowledging when no entry is done, and only acknowledges when nothing is rejected', async () => {
    const [first, second] = await t.publish('usage', [usageEvent()], [usageEvent()]);
    await t.readAs('usage', group, 'c1');
    const settler = settlerOf();
    await settler.settle([{ domain: 'usage', id: first!, raw: 'x', reason: 'r', deliveries: 1 }]);
    expect(await t.redis.xlen(deadLetterOf('usage'))).toBe(1);
    expect(await t.pending('usage', group)).toHaveLength(2);
    await settler.settle([], [{ domain: 'usage', id: second! }]);
    expect(await t.redis.xlen(deadLetterOf('usage'))).toBe(1);
    expect((await t.pending('usage', group)).map(({ id }) => id)).toEqual([first]);
  });

  it('execAll throws the first failed command’s error, so a settle that fails leaves its entries pending', async () => {
    await t.redis.set('plain', 'x');
    await expect(execAll(t.redis.pipeline().get('plain').xadd('plain', '*', 'a', 'b'))).rejects.toThrow(/WRONGTYPE/);
    expect(await execAll(t.redis.pipeline().get('plain').strlen('plain'))).toEqual(['x', 1]);
  });
});
