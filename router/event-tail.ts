import type { EventBus, EventEnvelope, Subscription } from '@mindweave/events';
import type { Logger } from '@mindweave/service-kit';

/**
 * Tails the usage event log once, from the first subscription on: later callers share the tail.
 * A tail that failed to start is forgotten, so the next subscription tries again.
 */
export function createUsageTail(options: {
  bus: Pick<EventBus, 'tail'>;
  onEvents: (events: EventEnvelope[]) => Promise<void>;
  log: Pick<Logger, 'error'>;
}) {
  const { bus, onEvents, log } = options;
  let tail: Promise<Subscription> | undefined;

  function ensure() {
    tail ??= bus.tail({ domains: ['usage'], handler: onEvents }).catch((error: unknown) => {
      tail = undefined;
      log.error({ err: error }, 'could not tail the usage event log');
      throw error;
    });
    return tail;
  }

  async function stop() {
    if (tail) await (await tail.catch(() => undefined))?.stop();
  }

  return { ensure, stop };
}
