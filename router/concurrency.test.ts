import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createConcurrencyLimit } from './concurrency.ts';

/** Keeps the event loop busy for `ms`, as CPU-bound plan execution does. */
function spin(ms: number) {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('createConcurrencyLimit', () => {
  it('never runs more operations at once than its limit, and serves waiters in order', async () => {
    const limit = createConcurrencyLimit({ min: 2, max: 2, intervalMs: 10 });
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        limit.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await sleep(5);
          order.push(i);
          running--;
        }),
      ),
    );
    limit.close();
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(limit.stats).toEqual({ limit: 2, active: 0, waiting: 0 });
  });

  it('shrinks toward its floor while the event loop is saturated', async () => {
    const limit = createConcurrencyLimit({ min: 4, max: 1_024, intervalMs: 20 });
    const started = limit.stats.limit;
    const work = Array.from({ length: 200 }, () =>
      limit.run(async () => {
        spin(5);
        await sleep(0);
      }),
    );
    await Promise.all(work);
    limit.close();
    expect(limit.stats.limit).toBeLessThan(started);
  });

  it('grows while operations wait on I/O and the event loop is idle', async () => {
    const limit = createConcurrencyLimit({ min: 4, max: 1_024, intervalMs: 10 });
    const started = limit.stats.limit;
    await Promise.all(Array.from({ length: 400 }, () => limit.run(() => sleep(30))));
    limit.close();
    expect(limit.stats.limit).toBeGreaterThan(started);
  });

  it('releases the slot of an operation that throws', async () => {
    const limit = createConcurrencyLimit({ min: 1, max: 1, intervalMs: 10 });
    await expect(limit.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limit.run(async () => 'next')).resolves.toBe('next');
    limit.close();
  });
});
