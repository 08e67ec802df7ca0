import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { badUserInput, ErrorCode, forbidden, isPassingFailure, MindweaveError, unavailable } from '@mindweave/errors';
import type { Violation } from '@mindweave/policy-engine';
import { createEvent, type EventEnvelope } from '@mindweave/events';
import type { SubgraphContext } from '@mindweave/subgraph-kit';
import { countInFlight, monthOf, monthToDate, releaseInFlight } from '@mindweave/usage-totals';
import { bus } from './bus.ts';
import { env } from './env.ts';
import { claim, claimKeyOf, eventIdOf, forget, markRecorded } from './idempotency.ts';
import { decideBatch, policiesOf } from './policies.ts';
import { costOf, currentPrices } from './prices.ts';
import { redis } from './redis.ts';

export const maxBatchEvents = 1_000;
const maxFutureMs = 5 * 60_000;
const maxAgeMs = 30 * 86_400_000;
/** What one event may hold; the schema's descriptions of UsageInput state them too. */
export const usageLimits = {
  idempotencyKeyLength: 200,
  modelLength: 100,
  tokens: 10_000_000,
  latencyMs: 3_600_000,
  metadataBytes: 4_096,
} as const;

export interface UsageInputValue {
  idempotencyKey?: string | null;
  model: string;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
  occurredAt?: Date | null;
  metadata?: unknown;
}

const tokens = z
  .number()
  .int()
  .min(0, 'must not be negative')
  .max(usageLimits.tokens, `must be at most ${usageLimits.tokens.toLocaleString('en')}`);
const usageInputs = z.array(
  z.object({
    idempotencyKey: z.string().min(1).max(usageLimits.idempotencyKeyLength).nullish(),
    model: z
      .string()
      .min(1, 'must not be empty')
      .max(usageLimits.modelLength)
      .regex(/^[\w.:/@-]+$/, 'must be a model name'),
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
      .refine(
        (value) => JSON.stringify(value).length <= usageLimits.metadataBytes,
        `must be at most ${usageLimits.metadataBytes / 1024} KB of JSON`,
      )
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

/**
 * Validates, prices and appends usage events to the event log. Resolves once the log holds them
 * (not once they are aggregated). A key whose event is in the log, or repeated in one batch, counts
 * as a duplicate; a key claimed by an attempt that failed is appended again under its event id
 * (idempotency.ts). Anything a dependency could not answer fails the whole call with UNAVAILABLE,
 * and the same call sent again records each event once.
 */
export async function recordUsageBatch(ctx: SubgraphContext, inputs: UsageInputValue[], field = 'inputs') {
  const single = field === 'input';
  const identity = ctx.identity;
  if (identity.kind !== 'apiKey' || !identity.scopes.includes('usage:write'))
    throw forbidden('Recording usage needs an API key with the usage:write scope');
  if (inputs.length > maxBatchEvents) throw badUserInput(`${field}: at most ${maxBatchEvents} events per batch`, field);
  validateInputs(inputs, field);
  const now = Date.now();

  const prices = await currentPrices();
  const seen = new Set<string>();
  const keyed: { index: number; key: string; claimKey: string }[] = [];
  inputs.forEach((input, index) => {
    if (!input.idempotencyKey || seen.has(input.idempotencyKey)) return;
    seen.add(input.idempotencyKey);
    keyed.push({ index, key: input.idempotencyKey, claimKey: claimKeyOf(identity.apiKeyId, input.idempotencyKey) });
  });
  const states = await claim(
    redis,
    keyed.map(({ claimKey }) => claimKey),
    env.IDEMPOTENCY_TTL_SECONDS,
  ).catch(asUnavailable(ctx, 'Idempotency keys cannot be checked right now; send the same batch again shortly'));
  const claimOf = new Map(keyed.map((entry, i) => [entry.index, { ...entry, state: states[i]! }]));

  const candidates: { index: number; event: EventEnvelope<'usage.recorded'> }[] = [];
  let duplicates = 0;
  inputs.forEach((input, index) => {
    const claimed = claimOf.get(index);
    if (input.idempotencyKey && (!claimed || claimed.state === 'recorded')) {
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
      input.idempotencyKey ? eventIdOf(identity.apiKeyId, input.idempotencyKey) : randomUUID(),
    );
    candidates.push({ index, event });
  });

  // Governance: events an enforcing policy denies are refused and not counted.
  const [compiled, totals] = await Promise.all([
    policiesOf(identity.organizationId, ctx.log),
    monthToDate(redis, identity.organizationId, monthOf(new Date(now))),
  ]);
  // An event appended again for a retry was counted by its first attempt: decided without itself.
  const decisions = decideBatch(
    compiled,
    candidates.map(({ event }) => event.data),
    totals,
    (i) => claimOf.get(candidates[i]!.index)?.state === 'pending',
  );
  const allowed = candidates.filter((_, i) => decisions[i]!.allowed);
  const violations = candidates.flatMap(({ index }, i) => decisions[i]!.violations.map((violation) => ({ index, ...violation })));
  const deniedClaims = candidates.filter((_, i) => !decisions[i]!.allowed).flatMap(({ index }) => claimOf.get(index)?.claimKey ?? []);
  await forget(redis, deniedClaims).catch((error: unknown) =>
    ctx.log.warn({ err: error, keys: deniedClaims.length }, 'claims of refused events not forgotten; a retry decides them again'),
  );
  const violationEvents = violationEventsOf(identity.organizationId, violations, ctx.requestId);

  if (single && violations.some((v) => v.enforcing)) {
    await bus.publish(violationEvents);
    const violation = violations.find((v) => v.enforcing)!;
    throw new MindweaveError(ErrorCode.POLICY_VIOLATION, `Refused by policy "${violation.policyName}": ${violation.reason}`, {
      policyId: violation.policyId,
      policyName: violation.policyName,
    });
  }

  // Counted in flight before the log has them, so that the quota alerts, reading the totals after
  // seeing these events in the log, find them counted; taken back if the append fails.
  const events = allowed.map(({ event }) => event);
  const usage = events.map((event) => ({ id: event.id, ...event.data }));
  await countInFlight(redis, identity.organizationId, usage).catch(
    asUnavailable(ctx, 'Usage cannot be counted right now; send the same batch again shortly'),
  );
  try {
    await bus.publish([...events, ...violationEvents]);
  } catch (error) {
    ctx.log.warn({ err: error, events: events.length }, 'the event log did not take the batch; its keys stay pending for the retry');
    await releaseInFlight(redis, identity.organizationId, usage).catch((undo: unknown) =>
      ctx.log.warn({ err: undo, events: usage.length }, 'in-flight totals not taken back; they settle when a retry is persisted'),
    );
    asUnavailable(ctx, 'The event log cannot take usage right now; send the same batch again shortly')(error);
  }
  const appendedClaims = allowed.flatMap(({ index }) => claimOf.get(index)?.claimKey ?? []);
  // A key left pending is appended again by a retry (deduplicated downstream): nothing is lost.
  await markRecorded(redis, appendedClaims).catch((error: unknown) =>
    ctx.log.warn({ err: error, keys: appendedClaims.length }, 'idempotency keys not marked recorded; a retry appends their events again'),
  );
  return { accepted: events.length, duplicates, rejected: candidates.length - events.length, violations: violations.slice(0, 100) };
}

/** Rethrows a dependency's failure as UNAVAILABLE (logged), anything else (a bug) as it is. */
function asUnavailable(ctx: SubgraphContext, message: string) {
  return (error: unknown): never => {
    if (!isPassingFailure(error)) throw error;
    ctx.log.warn({ err: error }, `${message} (answered UNAVAILABLE)`);
    throw unavailable(message);
  };
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
      {
        organizationId,
        policyId: first.policyId,
        policyName: first.policyName,
        enforcing: first.enforcing,
        reason: `${list.length} event(s) ${what}: ${first.reason}`,
      },
      { correlationId: requestId },
    );
  });
}
