import { describe, expect, it } from 'vitest';
import type { TailOptions } from '@mindweave/events';
import { createUsageTail } from './event-tail.ts';

function busOf(failures: number) {
  const tails: TailOptions[] = [];
  let stopped = 0;
  const bus = {
    tail(options: TailOptions) {
      tails.push(options);
      return tails.length <= failures ? Promise.reject(new Error('redis down')) : Promise.resolve({ stop: async () => void stopped++ });
    },
  };
  return { bus, tails, stopped: () => stopped };
}

describe('the usage tail', () => {
  it('tails the usage domain once, however many subscriptions ask, and stops it', async () => {
    const { bus, tails, stopped } = busOf(0);
    const onEvents = () => Promise.resolve();
    const tail = createUsageTail({ bus, onEvents, log: { error: () => undefined } });
    await Promise.all([tail.ensure(), tail.ensure()]);
    await tail.ensure();
    expect(tails.length).toBe(1);
    expect(tails[0]?.domains).toEqual(['usage']);
    expect(tails[0]?.handler).toBe(onEvents);
    await tail.stop();
    expect(stopped()).toBe(1);
  });

  it('fails the subscription that started a failing tail, logs it, and tries again on the next', async () => {
    const { bus, tails } = busOf(1);
    const logged: unknown[] = [];
    const tail = createUsageTail({
      bus,
      onEvents: () => Promise.resolve(),
      log: { error: (details: unknown) => void logged.push(details) },
    });
    await expect(tail.ensure()).rejects.toThrow('redis down');
    expect(logged.length).toBe(1);
    await tail.ensure();
    expect(tails.length).toBe(2);
  });

  it('stops nothing when it never tailed or its tail failed', async () => {
    const { bus, stopped } = busOf(1);
    const tail = createUsageTail({ bus, onEvents: () => Promise.resolve(), log: { error: () => undefined } });
    await tail.stop();
    await tail.ensure().catch(() => undefined);
    await tail.stop();
    expect(stopped()).toBe(0);
  });
});
