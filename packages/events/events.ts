import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { activeTraceCarrier } from '@mindweave/telemetry';

const memberRole = z.enum(['OWNER', 'ADMIN', 'MEMBER', 'VIEWER']);

/** The payload of each domain event type; publishing or consuming anything else fails validation. */
export const eventSchemas = {
  'usage.recorded': z.object({
    organizationId: z.string(),
    projectId: z.string(),
    apiKeyId: z.string(),
    model: z.string(),
    inputTokens: z.number().int().min(0),
    outputTokens: z.number().int().min(0),
    latencyMs: z.number().int().min(0),
    costUsd: z.number().min(0),
    /** The model was not in the price table: it costs 0 until it is. */
    unpricedModel: z.boolean(),
    occurredAt: z.string(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
  }),
  'user.created': z.object({ userId: z.string(), email: z.string(), name: z.string(), verificationUrl: z.string() }),
  'user.password_reset': z.object({ userId: z.string(), email: z.string(), name: z.string(), resetUrl: z.string() }),
  'user.verification_requested': z.object({ userId: z.string(), email: z.string(), name: z.string(), verificationUrl: z.string() }),
  'policy.changed': z.object({ organizationId: z.string(), policyId: z.string() }),
  'policy.violated': z.object({
    organizationId: z.string(),
    policyId: z.string(),
    policyName: z.string(),
    /** False for audit-only policies: the events were let through. */
    enforcing: z.boolean().optional(),
    model: z.string().optional(),
    reason: z.string(),
  }),
  'mcp.server.published': z.object({ organizationId: z.string(), serverId: z.string(), slug: z.string(), version: z.string() }),
  'export.completed': z.object({ organizationId: z.string(), exportId: z.string(), requestedBy: z.string(), status: z.string() }),

  // Access: what every router instance acts on at once (router/access-events.ts), and the workers' emails.
  /** Sessions (refresh-token families) ended: their access tokens are refused until `until`, when the last of them expires. */
  'user.session_ended': z.object({
    userId: z.string(),
    sessionIds: z.array(z.string()),
    reason: z.enum(['logout', 'password_reset', 'refresh_token_reused']),
    until: z.string(),
  }),
  /** An invitation to join; the workers email `token` as a link to the invited address. */
  'organization.member_invited': z.object({
    organizationId: z.string(),
    organizationName: z.string(),
    invitationId: z.string(),
    email: z.string(),
    role: memberRole,
    invitedBy: z.string(),
    token: z.string(),
    expiresAt: z.string(),
  }),
  /** A user joined, changed role, was removed or left: `role` is null once they are no longer a member. */
  'organization.membership_changed': z.object({
    organizationId: z.string(),
    userId: z.string(),
    role: memberRole.nullable(),
    previousRole: memberRole.nullable(),
  }),
  /** Soft-deleted: gone for everyone, its keys and webhooks stopped, its usage data purged after the retention. */
  'organization.deleted': z.object({ organizationId: z.string(), memberUserIds: z.array(z.string()) }),
  /** Keys that stopped working, or whose old secret now expires (`rotated`): cached copies must go. */
  'organization.api_keys_changed': z.object({
    organizationId: z.string(),
    keys: z.array(z.object({ apiKeyId: z.string(), keyHash: z.string() })),
    change: z.enum(['revoked', 'rotated', 'project_deleted', 'organization_deleted']),
  }),

  /**
   * What one router executed in one interval (a minute by default), per operation and client: the
   * schema coordinates each operation uses, requests, those answered with errors, and a latency
   * histogram over `latencyBucketsMs` (the last count is above the last bound). Stored by the
   * schema registry (packages/schema-tools/usage.ts) for traffic-aware schema checks.
   */
  'schema.usage_reported': z.object({
    router: z.string(),
    from: z.string(),
    to: z.string(),
    /** Operations left out of this report because the router's aggregate was full. */
    dropped: z.number().int().min(0),
    latencyBucketsMs: z.array(z.number().positive()),
    operations: z.array(
      z.object({
        hash: z.string(),
        name: z.string(),
        type: z.enum(['query', 'mutation', 'subscription']),
        clientName: z.string(),
        clientVersion: z.string(),
        coordinates: z.array(z.string()),
        requests: z.number().int().min(0),
        errors: z.number().int().min(0),
        latency: z.array(z.number().int().min(0)),
      }),
    ),
  }),
} as const;

export type EventType = keyof typeof eventSchemas;
export type EventData<T extends EventType> = z.infer<(typeof eventSchemas)[T]>;

export interface EventMetadata {
  correlationId: string;
  causationId?: string;
  userId?: string;
  /** W3C trace context of the operation that published it, when it was traced: consumers' spans join that trace. */
  traceparent?: string;
  tracestate?: string;
}

/**
 * Every event on the bus travels in this envelope: a union over the event types, so that a check
 * or a `switch` on `type` narrows `data` to that type's payload.
 */
export type EventEnvelope<T extends EventType = EventType> = {
  [K in T]: { id: string; type: K; aggregateId: string; timestamp: string; data: EventData<K>; metadata: EventMetadata };
}[T];

/** The users whose memberships an event changed (a membership change, or every member of a deleted organization); none for other events. */
export function usersWhoseMembershipsChanged(event: EventEnvelope): string[] {
  if (event.type === 'organization.membership_changed') return [event.data.userId];
  if (event.type === 'organization.deleted') return event.data.memberUserIds;
  return [];
}

/** The organization an event is about, when its payload names one. */
export function organizationOf(event: EventEnvelope): string | undefined {
  return 'organizationId' in event.data ? event.data.organizationId : undefined;
}

/** `usage.recorded` travels on the `usage` domain: stream/topic `mindweave.usage.events`. */
export const domainOf = (type: string) => type.split('.')[0] ?? type;
export const topicOf = (domain: string) => `mindweave.${domain}.events`;
/** Where a domain's poison messages and events that failed too many deliveries are kept for inspection. */
export const deadLetterOf = (domain: string) => `mindweave.${domain}.dead-letter`;

/**
 * Envelopes built by createEvent, whose payload was validated then: publishing them does not
 * validate them again (on the usage path that was a second zod parse per event). Envelopes are
 * values; one changed after createEvent is not revalidated.
 */
const created = new WeakSet<object>();

/** An envelope with a validated payload; `id` for events whose id is derived (idempotency keys). */
export function createEvent<T extends EventType>(
  type: T,
  aggregateId: string,
  data: EventData<T>,
  metadata: Partial<EventMetadata> = {},
  id: string = randomUUID(),
): EventEnvelope<T> {
  const envelope = {
    id,
    type,
    aggregateId,
    timestamp: new Date().toISOString(),
    data: eventSchemas[type].parse(data) as EventData<T>,
    metadata: { ...metadata, correlationId: metadata.correlationId ?? id, ...activeTraceCarrier() },
  };
  created.add(envelope);
  return envelope;
}

/** Validates an envelope about to be published, unless createEvent built it. */
export function checkEnvelope(event: EventEnvelope) {
  if (!created.has(event)) parseEnvelope(event);
}

// Built once: zod compiles a schema on first use, which costs far more than a parse.
const envelopeSchema = z.object({
  id: z.string(),
  type: z.string(),
  aggregateId: z.string(),
  timestamp: z.string(),
  data: z.unknown(),
  metadata: z.object({
    correlationId: z.string(),
    causationId: z.string().optional(),
    userId: z.string().optional(),
    traceparent: z.string().optional(),
    tracestate: z.string().optional(),
  }),
});

/** Validates an envelope read from a transport; throws on anything malformed (a poison message). */
export function parseEnvelope(value: unknown): EventEnvelope {
  const envelope = envelopeSchema.parse(value);
  const schema = eventSchemas[envelope.type as EventType];
  if (!schema) throw new Error(`unknown event type ${envelope.type}`);
  return { ...envelope, type: envelope.type as EventType, data: schema.parse(envelope.data) } as EventEnvelope;
}
