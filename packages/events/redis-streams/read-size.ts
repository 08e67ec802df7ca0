import { packSize } from './entries.ts';

/**
 * The COUNT of a consumer's reads and reclaims, in entries: about `batchSize` events, going by the
 * largest entry last read (packed entries hold up to packSize events, single publishes one).
 */
export function createReadSize(batchSize: number) {
  let entries = Math.max(1, Math.ceil(batchSize / packSize));
  return {
    get entries() {
      return entries;
    },
    /** After a read whose largest entry held `largest` events (at least 1). */
    observe(largest: number) {
      // Shrinks at once, grows by doubling: a read after single events must not bring batchSize packed entries.
      const target = Math.max(1, Math.ceil(batchSize / largest));
      entries = target < entries ? target : Math.min(target, entries * 2);
    },
  };
}
