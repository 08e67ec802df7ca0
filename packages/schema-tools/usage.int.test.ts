import { randomBytes } from 'node:crypto';
import { buildSchema } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createEvent } from '@mindweave/events';
import { createLogger } from '@mindweave/service-kit';
import { dropDatabase, ensureDatabase } from '../../scripts/stack.ts';
import { createUsageStore, migrateRegistry, readTraffic, readUsage, unusedFields, usageOverTime } from './usage.ts';

// A database of its own, so that the stack's routers' reports do not mix in.
const databaseUrl = `${inject('stack').databaseUrl}_usage_${randomBytes(3).toString('hex')}`;
let db: pg.Pool;
beforeAll(async () => {
  await ensureDatabase(databaseUrl);
  await migrateRegistry(databaseUrl);
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
});
afterAll(async () => {
  await db.end();
  await dropDatabase(databaseUrl);
});

const log = createLogger({ name: 'usage-test', level: 'silent' });
const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

function report(
  from: string,
  operations: { hash: string; name: string; client: string; version?: string; coordinates: string[]; requests: number; errors?: number }[],
) {
  return createEvent('schema.usage_reported', 'router-1', {
    router: 'router-1',
    from,
    to: from,
    dropped: 0,
    latencyBucketsMs: [10, 100],
    operations: operations.map((op) => ({
      hash: op.hash,
      name: op.name,
      type: 'query' as const,
      clientName: op.client,
      clientVersion: op.version ?? '1.0',
      coordinates: op.coordinates,
      requests: op.requests,
      errors: op.errors ?? 0,
      latency: [op.requests, 0, 0],
    })),
  });
}

describe('operation usage in the registry', () => {
  it('stores reports once however often they are delivered, and reads them per operation and client with filters', async () => {
    const store = createUsageStore({ db, retentionDays: 30, log });
    const first = report(ago(5), [
      { hash: 'a1', name: 'Dashboard', client: 'web', coordinates: ['Query.organization', 'Organization.slug'], requests: 5, errors: 1 },
      { hash: 'b2', name: 'Me', client: 'cli', coordinates: ['Query.me', 'User.email'], requests: 2 },
    ]);
    const second = report(ago(1), [
      {
        hash: 'a1',
        name: 'Dashboard',
        client: 'web',
        version: '1.1',
        coordinates: ['Query.organization', 'Organization.slug'],
        requests: 4,
      },
    ]);
    await store.handle([first, second]);
    await store.handle([first]); // redelivered

    const all = await readUsage(db, { from: new Date(ago(60)) });
    expect(all.map((u) => [u.name, u.clientName, u.clientVersions, u.requests, u.errors])).toEqual([
      ['Dashboard', 'web', ['1.0', '1.1'], 9, 1],
      ['Me', 'cli', ['1.0'], 2, 0],
    ]);
    expect((await readUsage(db, { from: new Date(ago(60)), coordinate: 'User.email' })).map((u) => u.name)).toEqual(['Me']);
    expect((await readUsage(db, { from: new Date(ago(60)), excludeClients: ['web'] })).map((u) => u.name)).toEqual(['Me']);
    expect((await readUsage(db, { from: new Date(ago(60)), minRequests: 3 })).map((u) => u.name)).toEqual(['Dashboard']);
    expect((await readUsage(db, { from: new Date(ago(3)) })).map((u) => u.requests)).toEqual([4]);

    const series = await usageOverTime(db, { from: new Date(ago(60)), to: new Date(), bucket: 'hour', clientName: 'web', limit: 100 });
    expect(series.reduce((sum, p) => sum + p.requests, 0)).toBe(9);

    const traffic = await readTraffic(databaseUrl, { days: 1, excludeClients: ['cli'] });
    expect(traffic).toMatchObject({ source: 'registry', description: expect.stringContaining('excluding cli') });
    const schema = buildSchema(
      'type Query { organization: Organization me: User } type Organization { slug: String name: String } type User { email: String }',
    );
    expect(unusedFields(schema, traffic.source === 'registry' ? traffic.operations : [])).toEqual([
      'Organization.name',
      'Query.me',
      'User.email',
    ]);
  });

  it('deletes what is older than the retention', async () => {
    // Written by a consumer keeping a month, purged by one keeping a day (each purges as it first writes).
    await createUsageStore({ db, retentionDays: 30, log }).handle([
      report(ago(2 * 24 * 60), [{ hash: 'old', name: 'Old', client: 'web', coordinates: ['Query.me'], requests: 1 }]),
    ]);
    expect((await readUsage(db, { from: new Date(ago(3 * 24 * 60)) })).some((u) => u.name === 'Old')).toBe(true);
    expect(await createUsageStore({ db, retentionDays: 1, log }).purge()).toBe(1);
    expect((await readUsage(db, { from: new Date(ago(3 * 24 * 60)) })).some((u) => u.name === 'Old')).toBe(false);
  });

  it('says why there is no traffic', async () => {
    expect(await readTraffic(undefined, { days: 7 })).toMatchObject({
      source: 'none',
      description: expect.stringContaining('DATABASE_URL is not set'),
    });
    expect(await readTraffic('postgresql://postgres@127.0.0.1:1/none', { days: 7 })).toMatchObject({
      source: 'none',
      description: expect.stringContaining('could not be read'),
    });
  });
});
