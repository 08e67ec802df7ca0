import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from '@mindweave/service-kit';
import type { StreamsReply } from './entries.ts';
import type { createReadSize } from './read-size.ts';

/**
 * Creates `group` on each stream (and the stream) unless it exists. A new group starts at the
 * beginning of the retained stream, so events published before the consumer first came up are not
 * skipped. ioredis gives XGROUP no key position, so `streams` must carry the key prefix.
 */
export const ensureGroups = (redis: Redis, streams: string[], group: string) =>
  Promise.all(
    streams.map(async (stream) => {
      try {
        await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
      } catch (error) {
        if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
      }
    }),
  );

export interface ReaderOptions {
  /** Blocking reads run on it; stop() disconnects it. */
  connection: Redis;
  /** The streams to read, without the key prefix. */
  streams: string[];
  group: string;
  consumer: string;
  blockMs: number;
  /** How often `reclaim` runs, between reads. */
  claimEveryMs: number;
  readSize: ReturnType<typeof createReadSize>;
  reclaim: (stopping: () => boolean) => Promise<void>;
  deliverFresh: (reply: NonNullable<StreamsReply>) => Promise<void>;
  /** Makes the groups again when they were deleted under the reader. */
  ensureGroups: () => Promise<unknown>;
  log: Logger;
}

/**
 * A consumer's loop: reclaims stale pending entries every claimEveryMs and reads new entries in
 * between, until stop(); a failure is logged and retried after a backoff (100 ms doubling to 2 s).
 */
export function startReading(options: ReaderOptions) {
  const { connection, streams, group, consumer, blockMs, claimEveryMs, readSize, reclaim, deliverFresh, log } = options;
  let stopping = false;
  const isStopping = () => stopping;
  const newEntries = streams.map(() => '>');
  const loop = (async () => {
    let nextClaimAt = 0;
    let failures = 0;
    while (!stopping) {
      try {
        if (Date.now() >= nextClaimAt) {
          await reclaim(isStopping);
          nextClaimAt = Date.now() + claimEveryMs;
        }
        if (stopping) break;
        const reply = (await connection.xreadgroup(
          'GROUP',
          group,
          consumer,
          'COUNT',
          readSize.entries,
          'BLOCK',
          blockMs,
          'STREAMS',
          ...streams,
          ...newEntries,
        )) as StreamsReply;
        // Entries read here are already pending on this consumer: handle them even when stopping.
        if (reply) await deliverFresh(reply);
        failures = 0;
      } catch (error) {
        failures += 1;
        log.error({ err: error }, 'consuming events failed; retrying');
        // The stream or group was deleted under us (FLUSHDB, a test's clean-up): make it again.
        if (error instanceof Error && error.message.startsWith('NOGROUP')) await options.ensureGroups().catch(() => undefined);
        await sleep(Math.min(100 * 2 ** failures, 2_000));
      }
    }
  })();
  return {
    /** Returns once the read in progress (within blockMs) and the handling of what it brought are done. */
    async stop() {
      stopping = true;
      await loop;
      connection.disconnect();
    },
  };
}
