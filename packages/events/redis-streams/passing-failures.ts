/**
 * Entries whose handler failed for passing reasons (isPassingFailure), and how often: in memory,
 * so a restart counts again (more tries, never fewer); the oldest forgotten past `limit`.
 */
export function createPassingFailures(limit = 10_000) {
  const counts = new Map<string, number>();
  return {
    /** Failures so far of entry `id`. */
    count: (id: string) => counts.get(id) ?? 0,
    remember(id: string, count: number) {
      counts.delete(id);
      counts.set(id, count);
      if (counts.size > limit) counts.delete(counts.keys().next().value as string);
    },
    forget(id: string) {
      counts.delete(id);
    },
    get size() {
      return counts.size;
    },
  };
}
