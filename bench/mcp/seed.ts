import { randomUUID } from 'node:crypto';
import pg from 'pg';

// A registry of plausible MCP servers, the same on every run (a seeded PRNG): names, descriptions
// and tool names drawn from a small vocabulary, so that common words match thousands of servers
// and rare combinations a handful.
const products = [
  'github',
  'gitlab',
  'jira',
  'slack',
  'postgres',
  'mysql',
  'redis',
  'kubernetes',
  'docker',
  'aws',
  'stripe',
  'notion',
  'linear',
  'figma',
  'sentry',
  'datadog',
  'grafana',
  'elastic',
  'mongodb',
  'snowflake',
  'bigquery',
  'salesforce',
  'hubspot',
  'zendesk',
  'shopify',
  'twilio',
  'gmail',
  'calendar',
  'dropbox',
  'confluence',
  'airtable',
  'browser',
  'filesystem',
  'weather',
  'maps',
  'youtube',
  'spotify',
  'discord',
  'terraform',
  'vercel',
];
const subjects = [
  'issues',
  'queries',
  'notifications',
  'deployments',
  'metrics',
  'logs',
  'files',
  'payments',
  'tickets',
  'documents',
  'messages',
  'events',
  'alerts',
  'reports',
  'backups',
  'analytics',
  'pipelines',
  'secrets',
  'users',
  'invoices',
];
const kinds = ['connector', 'bridge', 'toolkit', 'gateway', 'assistant', 'explorer', 'manager', 'server', 'adapter', 'inspector'];
const verbs = ['list', 'get', 'create', 'update', 'delete', 'search', 'sync', 'export', 'query', 'watch'];
const qualities = ['fast', 'secure', 'typed', 'read-only', 'streaming', 'self-hosted', 'lightweight', 'audited', 'multi-tenant', 'offline'];
const extras = [
  'with error tracking',
  'with audit logs',
  'for support teams',
  'for data engineers',
  'with pull request reviews',
  'with dashboards',
  'for incident response',
  'with rate limiting',
  'for on-call rotations',
  'with schema migrations',
];

function prng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const capitalize = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

export interface SeedResult {
  servers: number;
  tools: number;
  privateServers: number;
  ms: number;
}

/**
 * Inserts `count` servers straight into mcp-registry's tables (a benchmark seed, not the API):
 * one version each with 3 to 8 tools, its latest version set and its search vector computed by
 * the same SQL function the subgraph uses. One in ten is private to `privateOrganizationId`; the
 * rest belong to other (made-up) organizations and are public.
 */
export async function seedServers(databaseUrl: string, count: number, privateOrganizationId: string): Promise<SeedResult> {
  const started = performance.now();
  const random = prng(20_260_101);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const publisherIds = Array.from({ length: 200 }, () => randomUUID());
  const creatorId = randomUUID();
  const base = Date.UTC(2026, 0, 1);

  const servers = {
    id: [] as string[],
    organizationId: [] as string[],
    name: [] as string[],
    slug: [] as string[],
    description: [] as string[],
    visibility: [] as string[],
    createdAt: [] as string[],
  };
  const versions = { id: [] as string[], serverId: [] as string[], createdAt: [] as string[] };
  const tools = {
    id: [] as string[],
    versionId: [] as string[],
    position: [] as number[],
    name: [] as string[],
    description: [] as string[],
  };
  let privateServers = 0;
  for (let i = 0; i < count; i++) {
    const [product, subject, kind] = [pick(products), pick(subjects), pick(kinds)];
    const id = randomUUID();
    const isPrivate = i % 10 === 0;
    if (isPrivate) privateServers++;
    servers.id.push(id);
    servers.organizationId.push(isPrivate ? privateOrganizationId : pick(publisherIds));
    servers.name.push(`${capitalize(product)} ${capitalize(subject)} ${capitalize(kind)}`);
    servers.slug.push(`${product}-${subject}-${kind}-${i}`);
    servers.description.push(
      `A ${pick(qualities)} ${kind} that lets agents ${pick(verbs)} and ${pick(verbs)} ${subject} in ${capitalize(product)} and ${capitalize(pick(products))}, ${pick(extras)}.`,
    );
    servers.visibility.push(isPrivate ? 'PRIVATE' : 'PUBLIC');
    const createdAt = new Date(base + i * 60_000).toISOString();
    servers.createdAt.push(createdAt);
    const versionId = randomUUID();
    versions.id.push(versionId);
    versions.serverId.push(id);
    versions.createdAt.push(createdAt);
    const toolCount = 3 + Math.floor(random() * 6);
    const names = new Set<string>();
    while (names.size < toolCount) {
      const [verb, object] = [pick(verbs), pick([...subjects, product])];
      names.add(random() < 0.5 ? `${verb}_${object}` : `${verb}${capitalize(object)}`);
    }
    [...names].forEach((name, position) => {
      tools.id.push(randomUUID());
      tools.versionId.push(versionId);
      tools.position.push(position);
      tools.name.push(name);
      tools.description.push(`${capitalize(name.replace(/_/g, ' '))} in ${capitalize(product)}`);
    });
  }

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO mcp_registry.mcp_servers ("id", "organizationId", "name", "slug", "description", "visibility", "createdById", "createdAt")
       SELECT id, org, name, slug, description, visibility::mcp_registry."Visibility", $8, created
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamp[]) AS t(id, org, name, slug, description, visibility, created)`,
      [
        servers.id,
        servers.organizationId,
        servers.name,
        servers.slug,
        servers.description,
        servers.visibility,
        servers.createdAt,
        creatorId,
      ],
    );
    await client.query(
      `INSERT INTO mcp_registry.mcp_server_versions ("id", "serverId", "version", "transport", "publishedById", "createdAt")
       SELECT id, server, '1.0.0', 'STREAMABLE_HTTP', $4, created FROM unnest($1::uuid[], $2::uuid[], $3::timestamp[]) AS t(id, server, created)`,
      [versions.id, versions.serverId, versions.createdAt, creatorId],
    );
    await client.query(
      `INSERT INTO mcp_registry.mcp_tools ("id", "versionId", "position", "name", "description", "inputSchema")
       SELECT id, version, position, name, description, '{"type":"object","properties":{"query":{"type":"string"}}}'::jsonb
       FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[]) AS t(id, version, position, name, description)`,
      [tools.id, tools.versionId, tools.position, tools.name, tools.description],
    );
    await client.query(
      `UPDATE mcp_registry.mcp_servers s SET "latestVersionId" = v.id FROM mcp_registry.mcp_server_versions v WHERE v."serverId" = s.id`,
    );
    await client.query(
      `UPDATE mcp_registry.mcp_servers s
       SET "searchVector" = mcp_registry.mcp_server_search_vector(s.name, coalesce(t.names, ''), s.description)
       FROM (SELECT "versionId", string_agg(name, ' ' ORDER BY position) AS names FROM mcp_registry.mcp_tools GROUP BY "versionId") t
       WHERE t."versionId" = s."latestVersionId"`,
    );
    await client.query('COMMIT');
    await client.query('ANALYZE mcp_registry.mcp_servers, mcp_registry.mcp_server_versions, mcp_registry.mcp_tools');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
  return { servers: count, tools: tools.id.length, privateServers, ms: performance.now() - started };
}
