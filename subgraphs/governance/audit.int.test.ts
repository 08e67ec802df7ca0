import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createEvent } from '@mindweave/events';
import { recordViolations } from './audit.ts';
import { prisma } from './db.ts';
import { cleanUpAuditLog } from './processors.ts';

// The clean-up runs on the workers' pool, which names the schema in its SQL.
const workersPool = new pg.Pool({ connectionString: process.env['DATABASE_URL'], max: 1 });

afterAll(() => Promise.all([prisma.$disconnect(), workersPool.end()]));

const day = 86_400_000;

describe('recordViolations', () => {
  it('records each policy.violated event once, by event id, and ignores other policy events', async () => {
    const organizationId = randomUUID();
    const policyId = randomUUID();
    const violated = createEvent(
      'policy.violated',
      organizationId,
      { organizationId, policyId, policyName: 'no gpt-4', model: 'gpt-4', reason: '1 event(s) refused' },
      { correlationId: 'req-1' },
    );
    const changed = createEvent('policy.changed', policyId, { organizationId, policyId });
    expect(await recordViolations([violated, changed])).toBe(1);
    // Redelivered, alone or in a batch with a new one.
    const second = createEvent('policy.violated', organizationId, { organizationId, policyId, policyName: 'no gpt-4', reason: 'again' });
    expect(await recordViolations([violated, second, violated])).toBe(1);
    const rows = await prisma.auditEntry.findMany({ where: { organizationId }, orderBy: { occurredAt: 'asc' } });
    expect(rows.map((row) => [row.kind, row.eventId, row.policyId, row.reason, row.model, row.actorUserId])).toEqual([
      ['POLICY_VIOLATED', violated.id, policyId, '1 event(s) refused', 'gpt-4', null],
      ['POLICY_VIOLATED', second.id, policyId, 'again', null, null],
    ]);
    expect(rows[0]!.requestId).toBe('req-1');
    expect(rows[0]!.occurredAt.toISOString()).toBe(violated.timestamp);
  });

  it('skips events whose organization id is not a UUID rather than failing the batch', async () => {
    const organizationId = randomUUID();
    const bad = createEvent('policy.violated', 'x', { organizationId: 'not-a-uuid', policyId: 'p', policyName: 'n', reason: 'r' });
    const good = createEvent('policy.violated', organizationId, { organizationId, policyId: 'p', policyName: 'n', reason: 'r' });
    expect(await recordViolations([bad, good])).toBe(1);
  });
});

describe('cleanUpAuditLog', () => {
  const entry = (organizationId: string, ageDays: number) => ({
    organizationId,
    kind: 'POLICY_VIOLATED' as const,
    policyId: 'p',
    policyName: 'n',
    createdAt: new Date(Date.now() - ageDays * day),
  });

  it('deletes entries recorded more than the retention ago, and keeps the others', async () => {
    const organizationId = randomUUID();
    await prisma.auditEntry.createMany({
      data: [entry(organizationId, 120), entry(organizationId, 91), entry(organizationId, 89), entry(organizationId, 0)],
    });
    expect((await cleanUpAuditLog(workersPool, 90)).deleted).toBeGreaterThanOrEqual(2);
    const left = await prisma.auditEntry.findMany({ where: { organizationId }, orderBy: { createdAt: 'asc' } });
    expect(left.map((row) => Math.round((Date.now() - row.createdAt.getTime()) / day))).toEqual([89, 0]);
  });

  it('takes another retention, and deletes in batches', async () => {
    const organizationId = randomUUID();
    // More than one batch of 10,000, written in one statement.
    await prisma.$executeRaw`
      INSERT INTO audit_entries (id, "organizationId", kind, "policyId", "policyName", "createdAt")
      SELECT gen_random_uuid(), ${organizationId}::uuid, 'POLICY_VIOLATED', 'p', 'n', now() AT TIME ZONE 'UTC' - interval '40 days' FROM generate_series(1, 10001)`;
    await prisma.auditEntry.create({ data: entry(organizationId, 20) });
    expect((await cleanUpAuditLog(workersPool, 30)).deleted).toBeGreaterThanOrEqual(10_001);
    expect(await prisma.auditEntry.count({ where: { organizationId } })).toBe(1);
  });
});
