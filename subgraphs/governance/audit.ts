import type { EventEnvelope } from '@mindweave/events';
import type { Logger } from '@mindweave/service-kit';
import { isUuid } from '@mindweave/subgraph-kit/ids';
import { prisma } from './db.ts';
import type { AuditKind, Policy, Prisma } from './generated/prisma/client.ts';

/** What the audit log keeps of a policy before and after a change. */
export function policySnapshot(policy: Policy) {
  return {
    id: policy.id,
    name: policy.name,
    type: policy.type,
    rules: policy.rules as Prisma.InputJsonValue,
    enabled: policy.enabled,
    enforcing: policy.enforcing,
  };
}

/**
 * Writes the audit entry of a policy change and its `policy.changed` outbox row, in the
 * transaction `tx` of the change itself: either all three happen or none does.
 */
export async function recordPolicyChange(
  tx: Prisma.TransactionClient,
  change: {
    kind: Exclude<AuditKind, 'POLICY_VIOLATED'>;
    before: Policy | null;
    after: Policy | null;
    actorUserId: string;
    requestId: string;
  },
) {
  const policy = (change.after ?? change.before)!;
  await tx.auditEntry.create({
    data: {
      organizationId: policy.organizationId,
      kind: change.kind,
      policyId: policy.id,
      policyName: policy.name,
      actorUserId: change.actorUserId,
      requestId: change.requestId,
      ...(change.before ? { before: policySnapshot(change.before) } : {}),
      ...(change.after ? { after: policySnapshot(change.after) } : {}),
    },
  });
  await tx.outboxEvent.create({
    data: { type: 'policy.changed', aggregateId: policy.id, payload: { organizationId: policy.organizationId, policyId: policy.id } },
  });
}

/**
 * Records the decisions the usage path reports as `policy.violated` events, once per event id
 * (a redelivered batch inserts nothing new). Other events of the policy domain are ignored.
 * Returns how many entries were written.
 */
export async function recordViolations(events: EventEnvelope[], log?: Logger): Promise<number> {
  const rows: Prisma.AuditEntryCreateManyInput[] = [];
  for (const event of events) {
    if (event.type !== 'policy.violated') continue;
    const data = event.data;
    if (!isUuid(data.organizationId)) {
      log?.warn(
        { eventId: event.id, organizationId: data.organizationId },
        'policy.violated event for an organization id that is not a UUID; skipped',
      );
      continue;
    }
    const occurredAt = new Date(event.timestamp);
    rows.push({
      eventId: event.id,
      organizationId: data.organizationId,
      kind: 'POLICY_VIOLATED',
      policyId: data.policyId,
      policyName: data.policyName,
      reason: data.reason,
      model: data.model ?? null,
      requestId: event.metadata.correlationId,
      occurredAt: Number.isNaN(occurredAt.getTime()) ? new Date() : occurredAt,
    });
  }
  if (!rows.length) return 0;
  const { count } = await prisma.auditEntry.createMany({ data: rows, skipDuplicates: true });
  return count;
}
