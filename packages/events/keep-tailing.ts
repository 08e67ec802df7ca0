import type { Logger } from '@mindweave/service-kit';
import type { EventBus, Subscription, TailOptions } from './bus.ts';

/**
 * Tails the log (bus.tail) for the life of the process: when it cannot be tailed at start (Redis
 * down), it is tried again every `retryMs` instead of failing the process. `started` resolves once
 * the first attempt finished, either way.
 */
export function keepTailing(bus: EventBus, options: TailOptions, log: Logger, retryMs = 5_000) {
  let subscription: Subscription | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  async function start() {
    try {
      const started = await bus.tail(options);
      if (stopped) await started.stop();
      else subscription = started;
    } catch (error) {
      log.warn({ err: error, domains: options.domains }, 'events not tailed yet; retrying');
      if (!stopped) retry = setTimeout(() => void start(), retryMs).unref();
    }
  }
  const started = start();
  return {
    started,
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await started;
      await subscription?.stop();
    },
  };
}
