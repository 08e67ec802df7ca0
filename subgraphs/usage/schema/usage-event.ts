import { z } from 'zod';
import { badUserInput } from '@mindweave/errors';
import { builder } from '../builder.ts';
import { recordUsageBatch, usageLimits } from '../ingest.ts';

export interface UsageEventShape {
  id: string;
  organizationId: string;
  projectId: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  unpricedModel: boolean;
  latencyMs: number;
  occurredAt: Date;
}

const Organization = builder
  .externalRef('Organization', builder.selection<{ id: string }>('id'))
  .implement({ externalFields: (t) => ({ id: t.id() }) });
const Project = builder
  .externalRef('Project', builder.selection<{ id: string }>('id'))
  .implement({ externalFields: (t) => ({ id: t.id() }) });

export const UsageEvent = builder.objectRef<UsageEventShape>('UsageEvent').implement({
  description: 'One metered model call.',
  fields: (t) => ({
    id: t.exposeID('id'),
    model: t.exposeString('model'),
    inputTokens: t.exposeInt('inputTokens'),
    outputTokens: t.exposeInt('outputTokens'),
    costUsd: t.exposeFloat('costUsd'),
    unpricedModel: t.exposeBoolean('unpricedModel', { description: 'The model is not in the price table, so it was priced at 0.' }),
    latencyMs: t.exposeInt('latencyMs'),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    project: t.field({ type: Project, resolve: (event) => ({ id: event.projectId }) }),
    organization: t.field({ type: Organization, resolve: (event) => ({ id: event.organizationId }) }),
  }),
});

type ViolationShape = { index: number; policyId: string; policyName: string; type: string; enforcing: boolean; reason: string };

const PolicyViolation = builder.objectRef<ViolationShape>('PolicyViolation').implement({
  description: 'An event of the call that broke a policy: refused when the policy is enforcing, recorded when it is audit-only.',
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Position of the event in the call' }),
    code: t.string({ resolve: () => 'POLICY_VIOLATION' }),
    policyId: t.exposeID('policyId'),
    policyName: t.exposeString('policyName'),
    type: t.exposeString('type'),
    enforcing: t.exposeBoolean('enforcing'),
    reason: t.exposeString('reason'),
  }),
});

const UsageReceipt = builder
  .objectRef<{ accepted: number; duplicates: number; rejected: number; violations: ViolationShape[] }>('UsageReceipt')
  .implement({
    fields: (t) => ({
      accepted: t.exposeInt('accepted', { description: 'Events appended to the event log by this call.' }),
      duplicates: t.exposeInt('duplicates', { description: 'Events whose idempotency key was recorded before.' }),
      rejected: t.exposeInt('rejected', { description: 'Events refused by an enforcing policy; they are not counted.' }),
      violations: t.field({
        type: [PolicyViolation],
        description: 'At most 100.',
        listSize: { assumedSize: 10 },
        resolve: (receipt) => receipt.violations,
      }),
    }),
  });

// Validated with one schema for the whole batch (ingest.ts): per-field validation of 1,000 inputs
// cost the ingestion path a tenth of its CPU.
const UsageInput = builder.inputType('UsageInput', {
  fields: (t) => ({
    idempotencyKey: t.string({
      required: false,
      description: `The same key recorded twice counts once (for 24 hours). 1 to ${usageLimits.idempotencyKeyLength} characters.`,
    }),
    model: t.string({ required: true, description: `Letters, digits and . : / @ _ -; at most ${usageLimits.modelLength} characters.` }),
    inputTokens: t.int({ required: true, description: `0 to ${usageLimits.tokens.toLocaleString('en')}.` }),
    outputTokens: t.int({ required: true, description: `0 to ${usageLimits.tokens.toLocaleString('en')}.` }),
    latencyMs: t.int({ required: true, description: `0 to ${usageLimits.latencyMs.toLocaleString('en')} (an hour).` }),
    occurredAt: t.field({ type: 'DateTime', required: false, description: 'Default: now. At most 5 minutes ahead, at most 30 days old.' }),
    metadata: t.field({ type: 'JSON', required: false, description: `A JSON object of at most ${usageLimits.metadataBytes / 1024} KB.` }),
  }),
});

builder.mutationFields((t) => ({
  recordUsage: t.field({
    type: UsageReceipt,
    requiresScopes: [['usage:write']],
    args: { input: t.arg({ type: UsageInput, required: true }) },
    resolve: (_root, { input }, ctx) => recordUsageBatch(ctx, [input], 'input'),
  }),
  recordUsageBatch: t.field({
    type: UsageReceipt,
    requiresScopes: [['usage:write']],
    cost: 10,
    args: { inputs: t.arg({ type: [UsageInput], required: true }) },
    resolve: (_root, { inputs }, ctx) => recordUsageBatch(ctx, inputs),
  }),
}));

builder.subscriptionType({});
builder.subscriptionField('usageUpdated', (t) =>
  t.field({
    type: UsageEvent,
    description: "Every usage event of the organization, live. Members, or the organization's API keys with usage:read.",
    args: { organizationId: t.arg.id({ required: true }) },
    // The router executes subscriptions itself, from the event log (router/subscriptions.ts).
    subscribe: () => {
      throw badUserInput('Subscribe through the router over WebSocket');
    },
    resolve: (event: UsageEventShape) => event,
  }),
);

const streamedEvent = z.object({
  id: z.string(),
  organizationId: z.string(),
  projectId: z.string(),
  model: z.string(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  costUsd: z.number(),
  unpricedModel: z.boolean(),
  latencyMs: z.number(),
  occurredAt: z.coerce.date(),
});

// What the router resolves a subscription's selection through, so that fields of other subgraphs
// (organization { name }) are planned like any query. No client holds the scope. Items are
// nullable so that an error in one event's selection does not null the others of the burst.
builder.queryField('usageEventsFromStream', (t) =>
  t.field({
    type: [UsageEvent],
    nullable: { list: false, items: true },
    requiresScopes: [['internal:subscriptions']],
    listSize: { assumedSize: 100 },
    args: { events: t.arg({ type: ['JSON'], required: true }) },
    resolve: (_root, { events }) => events.map((event) => streamedEvent.parse(event)),
  }),
);
