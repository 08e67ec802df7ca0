import { eventSchemas, type EventData, type EventType } from '@mindweave/events';
import type { SubgraphContext } from '@mindweave/subgraph-kit';
import type { AuditAction, Prisma } from './generated/prisma/client.ts';

/** An event for the outbox, its payload typed by its type. */
export type OutgoingEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

export interface Change {
  organizationId: string;
  action: AuditAction;
  /** The member the change was about. */
  targetUserId?: string | null;
  /** The invitation, project or key it was about. */
  targetId?: string | null;
  details?: Prisma.InputJsonObject;
  /** What every router instance (and the workers) must hear of it. */
  events?: OutgoingEvent[];
}

/**
 * Writes the audit entry of a change to an organization and the outbox rows of its events, in the
 * transaction `tx` of the change itself: all of it happens, or none. The relay publishes the events
 * within a fraction of a second (main.ts).
 */
export async function recordChange(tx: Prisma.TransactionClient, ctx: SubgraphContext, change: Change) {
  if (ctx.identity.kind !== 'user') throw new Error('team changes are made by signed-in users');
  await tx.auditEntry.create({
    data: {
      organizationId: change.organizationId,
      action: change.action,
      actorUserId: ctx.identity.userId,
      targetUserId: change.targetUserId ?? null,
      targetId: change.targetId ?? null,
      requestId: ctx.requestId,
      ...(change.details ? { details: change.details } : {}),
    },
  });
  if (change.events?.length) {
    await tx.outboxEvent.createMany({
      // Checked here, so that a malformed event fails the change instead of being dropped by the relay.
      data: change.events.map((event) => ({
        type: event.type,
        aggregateId: change.organizationId,
        payload: eventSchemas[event.type].parse(event.data) as Prisma.InputJsonObject,
      })),
    });
  }
}
