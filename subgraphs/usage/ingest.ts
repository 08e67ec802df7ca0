import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { badUserInput, ErrorCode, forbidden, MindweaveError } from '@mindweave/errors';
import type { Violation } from '@mindweave/policy-engine';
import { createEvent, type EventEnvelope } from '@mindweave/events';
import type { SubgraphContext } from '@mindweave/subgraph-kit';
import { addUsage, monthOf, monthToDate } from '@mindweave/usage-totals';
import { bus } from './bus.ts';
import { env } from './env.ts';
import { decideBatch, policiesOf } from './policies.ts';
import { costOf, currentPrices } from './prices.ts';
import { redis } from './redis.ts';

export const maxBatchEvents = 1_000;
const maxFutureMs = 5 * 60_000;
const maxAgeMs = 30 * 86_400_000;
/** What one event may hold; the schema's descriptions of UsageInput state them too. */
export const usageLimits = { idempotencyKeyLength: 200, modelLength: 100, tokens: 10_000_000, latencyMs: 3_600_000, metadataBytes: 4_096 } as const;

export interface UsageInputValue {
  idempotencyKey?: string | null;
  model: string;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
  occurredAt?: Date | null;
  metadata?: unknown;
}

const tokens = z.number().int().min(0, 'must not be negative').max(usageLimits.tokens, `must be at most ${usageLimits.tokens.toLocaleString('en')}`);
const usageInputs = z.array(
  z.object({
    idempotencyKey: z.string().min(1).max(usageLimits.idempotencyKeyLength).nullish(),
    model: z.string().min(1, 'must not be empty').max(usageLimits.modelLength).regex(/^[\w.:/@-]+$/, 'must be a model name'),
    inputTokens: tokens,
    outputTokens: tokens,
    latencyMs: z.number().int().min(0, 'must not be negative').max(usageLimits.latencyMs, 'must be at most an hour'),
    occurredAt: z
      .date()
      .refine((at) => at.getTime() <= Date.now() + maxFutureMs, 'is in the future')
      .refine((at) => at.getTime() >= Date.now() - maxAgeMs, 'is older than 30 days')
      .nullish(),
    metadata: z
      .record(z.string(), z.unknown(), { error: 'must be a JSON object' })
      .refine((value) => JSON.stringify(value).length <= usageLimits.metadataBytes, `must be at most ${usageLimits.metadataBytes / 1024} KB of JSON`)
      .nullish(),
  }),
);

/** The first problem of a batch as BAD_USER_INPUT naming its field: `inputs.2.latencyMs`, or `input.model` for one event. */
function validateInputs(inputs: UsageInputValue[], field: string) {
  const result = usageInputs.safeParse(inputs);
  if (result.success) return;
  const issue = result.error.issues[0]!;
  const [index, ...rest] = issue.path.map(String);
  const path = field === 'input' ? ['input', ...rest].join('.') : [field, index, ...rest].join('.');
  throw badUserInput(`${path}: ${issue.message}`, path);
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
  const single = field === 'input';
  const identity = ctx.identity;
  if (identity.kind !== 'apiKey' || !identity.scopes.includes('usage:write')) throw forbidden('Recording usage needs an API key with the usage:write scope');
  if (inputs.length > maxBatchEvents) throw badUserInput(`${field}: at most ${maxBatchEvents} events per batch`, field);
  validateInputs(inputs, field);
  const now = Date.now();

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
  const claims = keyed.length ? ((await redis.pipeline(keyed.map(({ key }) => ['set', redisKey(key), '1', 'EX', String(env.IDEMPOTENCY_TTL_SECONDS), 'NX'])).exec()) ?? []) : [];
  // Only a null reply is a key claimed before. A claim whose answer was lost (a timeout: the SET may
  // still have run) is taken as this request's: its event is recorded, under the id its key always
  // gives, which the consumers count once should it be a duplicate after all. Refusing it instead
  // could lose it: its retry would find the key set.
  const unanswered = claims.filter(([error]) => error).length;
  if (unanswered) ctx.log.warn({ unanswered }, 'idempotency claims not answered; their events are recorded, deduplicated downstream by id');
  const claimed = new Set(keyed.filter((_, i) => claims[i]?.[0] || claims[i]?.[1] === 'OK').map(({ index }) => index));

  const candidates: { index: number; event: EventEnvelope<'usage.recorded'> }[] = [];
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
      input.idempotencyKey ? eventIdFor(identity.apiKeyId, input.idempotencyKey) : randomUUID(),
    );
    candidates.push({ index, event });
  });

  // Governance: events an enforcing policy denies are refused and not counted.
  const [compiled, totals] = await Promise.all([policiesOf(identity.organizationId, ctx.log), monthToDate(redis, identity.organizationId, monthOf(new Date(now)))]);
  const decisions = decideBatch(compiled, candidates.map(({ event }) => event.data), totals);
  const events = candidates.filter((_, i) => decisions[i]!.allowed).map(({ event }) => event);
  const violations = candidates.flatMap(({ index }, i) => decisions[i]!.violations.map((violation) => ({ index, ...violation })));
  const deniedKeys = candidates.filter((_, i) => !decisions[i]!.allowed).map(({ index }) => inputs[index]!.idempotencyKey).filter((k): k is string => !!k);
  if (deniedKeys.length) await redis.del(...deniedKeys.map(redisKey));
  const violationEvents = violationEventsOf(identity.organizationId, violations, ctx.requestId);

  if (single && violations.some((v) => v.enforcing)) {
    await bus.publish(violationEvents);
    const violation = violations.find((v) => v.enforcing)!;
    throw new MindweaveError(ErrorCode.POLICY_VIOLATION, `Refused by policy "${violation.policyName}": ${violation.reason}`, { policyId: violation.policyId, policyName: violation.policyName });
  }

  // Month-to-date totals first, so that the quota alerts, reading them after seeing these events in
  // the log, find them counted (best effort: a Redis failure is logged). Taken back if the events do
  // not reach the log; meanwhile a reader may see them counted.
  const usage = events.map((event) => event.data);
  const counted = await addUsage(redis, identity.organizationId, usage).then(
    () => true,
    (error: unknown) => (ctx.log.warn({ err: error }, 'month-to-date totals not updated'), false),
  );
  try {
    await bus.publish([...events, ...violationEvents]);
  } catch (error) {
    // Nothing was recorded: release the keys so that the client's retry is not taken for a duplicate.
    const released = keyed.filter(({ index }) => claimed.has(index)).map(({ key }) => redisKey(key));
    if (released.length) await redis.del(...released).catch(() => undefined);
    if (counted) await addUsage(redis, identity.organizationId, usage, -1).catch((undo: unknown) => ctx.log.warn({ err: undo }, 'month-to-date totals not taken back'));
    throw error;
  }
  return { accepted: events.length, duplicates, rejected: candidates.length - events.length, violations: violations.slice(0, 100) };
}

/** One `policy.violated` event per policy and batch, not one per event. */
function violationEventsOf(organizationId: string, violations: (Violation & { index: number })[], requestId: string) {
  const byPolicy = new Map<string, (Violation & { index: number })[]>();
  for (const v of violations) byPolicy.set(v.policyId, [...(byPolicy.get(v.policyId) ?? []), v]);
  return [...byPolicy.values()].map((list) => {
    const first = list[0]!;
    const what = first.enforcing ? 'refused' : 'let through (audit only)';
    return createEvent(
      'policy.violated',
      organizationId,
      { organizationId, policyId: first.policyId, policyName: first.policyName, enforcing: first.enforcing, reason: `${list.length} event(s) ${what}: ${first.reason}` },
      { correlationId: requestId },
    );
  });
}
