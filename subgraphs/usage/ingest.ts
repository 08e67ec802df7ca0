import { createHash, randomUUID } from 'node:crypto';
import { badUserInput, forbidden } from '@mindweave/errors';
import { createEvent, type EventEnvelope } from '@mindweave/events';
import type { SubgraphContext } from '@mindweave/subgraph-kit';
import { bus } from './bus.ts';
import { env } from './env.ts';
import { costOf, currentPrices } from './prices.ts';
import { redis } from './redis.ts';

export const maxBatchEvents = 1_000;
const maxFutureMs = 5 * 60_000;
const maxAgeMs = 30 * 86_400_000;

export interface UsageInputValue {
  idempotencyKey?: string | null;
  model: string;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
  occurredAt?: Date | null;
  metadata?: unknown;
}

/** An idempotency key always yields the same event id, so the log's consumers dedupe it too. */
const eventIdFor = (apiKeyId: string, idempotencyKey: string) => {
  const hex = createHash('sha256').update(`${apiKeyId}\n${idempotencyKey}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};

/**
 * Validates, prices and appends usage events to the event log. Resolves once the log holds them
 * (not once they are aggregated). A key seen before, or twice in one batch, counts as a duplicate.
 */
export async function recordUsageBatch(ctx: SubgraphContext, inputs: UsageInputValue[], field = 'inputs') {
  const identity = ctx.identity;
  if (identity.kind !== 'apiKey' || !identity.scopes.includes('usage:write')) throw forbidden('Recording usage needs an API key with the usage:write scope');
  if (inputs.length > maxBatchEvents) throw badUserInput(`${field}: at most ${maxBatchEvents} events per batch`, field);
  const now = Date.now();
  inputs.forEach((input, i) => {
    const at = input.occurredAt?.getTime();
    const path = inputs.length === 1 && field === 'input' ? 'input.occurredAt' : `${field}.${i}.occurredAt`;
    if (at !== undefined && at > now + maxFutureMs) throw badUserInput(`${path}: is in the future`, path);
    if (at !== undefined && at < now - maxAgeMs) throw badUserInput(`${path}: is older than 30 days`, path);
  });

  const prices = await currentPrices();
  const seen = new Set<string>();
  const keyed: { index: number; key: string }[] = [];
  inputs.forEach((input, index) => {
    if (!input.idempotencyKey) return;
    if (seen.has(input.idempotencyKey)) return;
    seen.add(input.idempotencyKey);
    keyed.push({ index, key: input.idempotencyKey });
  });
  const redisKey = (key: string) => `idem:${identity.apiKeyId}:${createHash('sha256').update(key).digest('base64url')}`;
  const claims = keyed.length ? await redis.pipeline(keyed.map(({ key }) => ['set', redisKey(key), '1', 'EX', String(env.IDEMPOTENCY_TTL_SECONDS), 'NX'])).exec() : [];
  const claimed = new Set(keyed.filter((_, i) => claims?.[i]?.[1] === 'OK').map(({ index }) => index));

  const events: EventEnvelope<'usage.recorded'>[] = [];
  let duplicates = 0;
  inputs.forEach((input, index) => {
    if (input.idempotencyKey && !claimed.has(index)) {
      duplicates++;
      return;
    }
    const event = createEvent(
      'usage.recorded',
      identity.organizationId,
      {
        organizationId: identity.organizationId,
        projectId: identity.projectId,
        apiKeyId: identity.apiKeyId,
        model: input.model,
        inputTokens: input.inputTokens,
        outputTokens: input.outputTokens,
        latencyMs: input.latencyMs,
        ...costOf(prices, input.model, input.inputTokens, input.outputTokens),
        occurredAt: (input.occurredAt ?? new Date(now)).toISOString(),
        metadata: (input.metadata as Record<string, unknown> | null | undefined) ?? null,
      },
      { correlationId: ctx.requestId },
    );
    events.push({ ...event, id: input.idempotencyKey ? eventIdFor(identity.apiKeyId, input.idempotencyKey) : randomUUID() });
  });

  try {
    await bus.publish(events);
  } catch (error) {
    // Nothing was recorded: release the keys so that the client's retry is not taken for a duplicate.
    const released = keyed.filter(({ index }) => claimed.has(index)).map(({ key }) => redisKey(key));
    if (released.length) await redis.del(...released).catch(() => undefined);
    throw error;
  }
  return { accepted: events.length, duplicates };
}
