import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from '@mindweave/service-kit';
import { deadLetterOf, topicOf } from '../events.ts';
import { envelopeField } from './entries.ts';
import type { EntryRef, Rejected } from './deliveries.ts';

/** Runs a pipeline or transaction; throws the first command's error, as a single command would. */
export async function execAll(chain: ChainableCommander): Promise<unknown[]> {
  const results = await chain.exec();
  if (!results) throw new Error('Redis discarded the transaction');
  for (const [error] of results) if (error) throw error;
  return results.map(([, result]) => result);
}

export interface SettlerOptions {
  redis: Redis;
  /** The consumer's domains, in the order their acknowledgements are sent. */
  domains: string[];
  group: string;
  consumer: string;
  /** Approximate cap on each dead-letter stream's entries. */
  maxLength: number;
  log: Logger;
}

/** How a consumer is done with entries: acknowledging them, and dead-lettering the events it gives up on. */
export function createSettler(options: SettlerOptions) {
  const { redis, domains, group, consumer, maxLength, log } = options;

  const ack = async (done: EntryRef[]) => {
    if (done.length === 0) return;
    const pipeline = redis.pipeline();
    for (const domain of domains) {
      const ids = done.filter((entry) => entry.domain === domain).map((entry) => entry.id);
      if (ids.length) pipeline.xack(topicOf(domain), group, ...ids);
    }
    await execAll(pipeline);
  };

  /** Writes `rejected` to the dead-letter streams and acknowledges `done` entries, in one transaction. */
  const settle = async (rejected: Rejected[], done: EntryRef[] = []) => {
    if (rejected.length === 0) return ack(done);
    const transaction = redis.multi();
    for (const { domain, id, raw, reason, deliveries } of rejected) {
      transaction.xadd(
        deadLetterOf(domain),
        'MAXLEN',
        '~',
        maxLength,
        '*',
        envelopeField,
        raw,
        'reason',
        reason,
        'stream',
        topicOf(domain),
        'entryId',
        id,
        'group',
        group,
        'consumer',
        consumer,
        'deliveries',
        String(deliveries),
        'deadLetteredAt',
        new Date().toISOString(),
      );
    }
    for (const { domain, id } of done) transaction.xack(topicOf(domain), group, id);
    await execAll(transaction);
    log.warn(
      { events: rejected.map(({ domain, id, reason, deliveries }) => ({ domain, id, reason, deliveries })) },
      'events moved to the dead-letter stream',
    );
  };

  return { ack, settle };
}

export type Settler = ReturnType<typeof createSettler>;
