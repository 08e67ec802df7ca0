import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTenant, gql, registerUser, unique } from './client.ts';
import { sql } from './db.ts';

const registerServer =
  'mutation ($input: RegisterMcpServerInput!) { registerMcpServer(input: $input) { id name slug description visibility latestVersion { version } } }';
const publishVersion =
  'mutation ($input: PublishMcpServerVersionInput!) { publishMcpServerVersion(input: $input) { version transport deprecated tools { name description inputSchema } } }';
const deprecateVersion =
  'mutation ($serverId: ID!, $version: String!, $reason: String) { deprecateMcpServerVersion(serverId: $serverId, version: $version, reason: $reason) { version deprecated deprecationReason } }';
const searchServers = `query ($search: String, $first: Int, $after: String) {
  mcpServers(search: $search, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id slug name latestVersion { version tools { name } } publisher { id } } }
  }
}`;
const addMember = 'mutation ($input: AddMemberInput!) { addMember(input: $input) { role } }';

/** A word no other test uses, so that a search finds only this test's servers. */
const word = () => `zq${randomBytes(5).toString('hex')}`;
const objectSchema = { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] };

type Tenant = Awaited<ReturnType<typeof createTenant>>;
type Edges = { cursor: string; node: { id: string; slug: string; name: string } }[];

async function register(tenant: Tenant, input: Partial<{ name: string; description: string; visibility: string; slug: string }> = {}) {
  const result = await gql(
    registerServer,
    {
      input: {
        organizationId: tenant.organizationId,
        name: 'Server',
        description: 'An MCP server',
        visibility: 'PUBLIC',
        slug: unique('mcp'),
        ...input,
      },
    },
    { token: tenant.user.accessToken },
  );
  if (!result.data) throw new Error(`registerMcpServer failed: ${JSON.stringify(result.errors)}`);
  return result.data.registerMcpServer as { id: string; slug: string };
}

function publish(
  token: string,
  serverId: string,
  version: string,
  tools: { name: string; description?: string; inputSchema?: unknown }[] = [{ name: 'search' }],
) {
  return gql(
    publishVersion,
    {
      input: {
        serverId,
        version,
        transport: 'STREAMABLE_HTTP',
        tools: tools.map((tool) => ({ description: 'A tool', inputSchema: objectSchema, ...tool })),
      },
    },
    { token },
  );
}

async function search(term: string | null, options: { token?: string; first?: number; after?: string } = {}) {
  const result = await gql(searchServers, { search: term, first: options.first, after: options.after }, { token: options.token });
  expect(result.errors).toBeUndefined();
  return result.data!.mcpServers as { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Edges };
}

describe('registering and publishing MCP servers', () => {
  it('registers a server, publishes versions and shows the latest with its tools', async () => {
    const tenant = await createTenant();
    const registered = await gql(
      registerServer,
      {
        input: {
          organizationId: tenant.organizationId,
          name: '  Files  ',
          slug: unique('files'),
          description: 'Reads and writes files',
          visibility: 'PUBLIC',
        },
      },
      { token: tenant.user.accessToken },
    );
    expect(registered.errors).toBeUndefined();
    const server = registered.data!.registerMcpServer;
    expect(server).toMatchObject({ name: 'Files', description: 'Reads and writes files', visibility: 'PUBLIC', latestVersion: null });

    const first = await publish(tenant.user.accessToken, server.id, '1.0.0', [
      {
        name: 'read_file',
        description: 'Reads a file',
        inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
      },
      {
        name: 'list.dir',
        inputSchema: {
          $schema: 'http://json-schema.org/draft-07/schema#',
          type: 'object',
          definitions: { p: { type: 'string' } },
          properties: { path: { $ref: '#/definitions/p' } },
        },
      },
    ]);
    expect(first.errors).toBeUndefined();
    expect(first.data!.publishMcpServerVersion).toEqual({
      version: '1.0.0',
      transport: 'STREAMABLE_HTTP',
      deprecated: false,
      tools: [
        {
          name: 'read_file',
          description: 'Reads a file',
          inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
        },
        expect.objectContaining({ name: 'list.dir' }),
      ],
    });
    expect((await publish(tenant.user.accessToken, server.id, '1.1.0-beta.1')).errors).toBeUndefined();
    expect((await publish(tenant.user.accessToken, server.id, '1.1.0')).errors).toBeUndefined();

    const seen = await gql(
      'query ($slug: String!) { mcpServer(slug: $slug) { latestVersion { version } versions { version } publisher { id } } }',
      { slug: server.slug },
    );
    expect(seen.data!.mcpServer.latestVersion).toEqual({ version: '1.1.0' });
    expect(seen.data!.mcpServer.versions).toEqual([{ version: '1.1.0' }, { version: '1.1.0-beta.1' }, { version: '1.0.0' }]);
    const asMember = await gql(
      'query ($slug: String!) { mcpServer(slug: $slug) { publisher { id name } } }',
      { slug: server.slug },
      { token: tenant.user.accessToken },
    );
    expect(asMember.data!.mcpServer.publisher).toEqual({ id: tenant.organizationId, name: 'Tenant' });
  });

  it('refuses a version that is not higher than every version published, naming input.version', async () => {
    const tenant = await createTenant();
    const server = await register(tenant);
    expect((await publish(tenant.user.accessToken, server.id, '1.2.0')).errors).toBeUndefined();
    for (const version of ['1.2.0', '1.1.9', '1.2.0-rc.1', '1.2.0+build.7']) {
      const refused = await publish(tenant.user.accessToken, server.id, version);
      expect(refused.errors?.[0]?.extensions, version).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.version' });
      expect(refused.errors?.[0]?.message).toContain('1.2.0');
    }
    for (const version of ['v1.3.0', '1.3', 'latest']) {
      const refused = await publish(tenant.user.accessToken, server.id, version);
      expect(refused.errors?.[0]?.extensions, version).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.version' });
    }
    expect((await publish(tenant.user.accessToken, server.id, '1.10.0')).errors).toBeUndefined();
    // A deprecated version still counts: versions only grow.
    expect(
      (await gql(deprecateVersion, { serverId: server.id, version: '1.10.0' }, { token: tenant.user.accessToken })).errors,
    ).toBeUndefined();
    expect((await publish(tenant.user.accessToken, server.id, '1.9.0')).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.version',
    });
  });

  it('refuses a tool whose inputSchema is not a valid JSON Schema, naming the tool and saying why', async () => {
    const tenant = await createTenant();
    const server = await register(tenant);
    const cases: [unknown, string][] = [
      [{ type: 'object', properties: { query: { type: 'strng' } } }, '/properties/query/type must be equal to one of the allowed values'],
      [{ type: 'object', required: 'query' }, '/required must be array'],
      [{ type: 'object', properties: { query: { type: 'string', pattern: '(' } } }, 'Invalid regular expression'],
      [{ type: 'object', properties: { query: { $ref: '#/$defs/missing' } } }, "can't resolve reference"],
      [{ type: 'string' }, '"type": "object"'],
      ['not a schema', 'must be a JSON Schema object'],
    ];
    for (const [inputSchema, why] of cases) {
      const refused = await publish(tenant.user.accessToken, server.id, '1.0.0', [{ name: 'fine' }, { name: 'broken', inputSchema }]);
      expect(refused.errors?.[0]?.extensions, JSON.stringify(inputSchema)).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.tools.1.inputSchema',
      });
      expect(refused.errors?.[0]?.message).toContain(why);
    }
    const duplicate = await publish(tenant.user.accessToken, server.id, '1.0.0', [{ name: 'same' }, { name: 'same' }]);
    expect(duplicate.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.tools.1.name' });
    const badName = await publish(tenant.user.accessToken, server.id, '1.0.0', [{ name: 'has spaces' }]);
    expect(badName.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.tools.0.name' });
    // Nothing was published by the refused attempts.
    expect((await publish(tenant.user.accessToken, server.id, '1.0.0')).errors).toBeUndefined();
  });

  it('lets only OWNER and ADMIN members register and publish', async () => {
    const owner = await createTenant();
    const [member, admin, outsider] = await Promise.all([registerUser('Member'), registerUser('Admin'), createTenant()]);
    await gql(
      addMember,
      { input: { organizationId: owner.organizationId, userId: member.userId, role: 'MEMBER' } },
      { token: owner.user.accessToken },
    );
    await gql(
      addMember,
      { input: { organizationId: owner.organizationId, userId: admin.userId, role: 'ADMIN' } },
      { token: owner.user.accessToken },
    );
    const input = (slug = unique('roles')) => ({
      input: { organizationId: owner.organizationId, name: 'Roles', slug, description: '', visibility: 'PRIVATE' },
    });

    expect((await gql(registerServer, input(), { token: member.accessToken })).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect((await gql(registerServer, input(), { token: owner.apiKey })).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect((await gql(registerServer, input())).errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect((await gql(registerServer, input(), { token: outsider.user.accessToken })).errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    const unknownOrg = { input: { ...input().input, organizationId: '00000000-0000-4000-8000-000000000000' } };
    expect((await gql(registerServer, unknownOrg, { token: owner.user.accessToken })).errors?.[0]?.extensions.code).toBe('NOT_FOUND');

    const byAdmin = await gql(registerServer, input(), { token: admin.accessToken });
    expect(byAdmin.errors).toBeUndefined();
    const serverId = byAdmin.data!.registerMcpServer.id;
    expect((await publish(member.accessToken, serverId, '1.0.0')).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    // Another tenant cannot tell that the private server exists.
    expect((await publish(outsider.user.accessToken, serverId, '1.0.0')).errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    expect((await publish(admin.accessToken, serverId, '1.0.0')).errors).toBeUndefined();
    expect((await gql(deprecateVersion, { serverId, version: '1.0.0' }, { token: member.accessToken })).errors?.[0]?.extensions.code).toBe(
      'FORBIDDEN',
    );

    // A public server is no secret, but outsiders still may not publish to it.
    const open = await register(owner, { visibility: 'PUBLIC' });
    expect((await publish(outsider.user.accessToken, open.id, '1.0.0')).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('answers CONFLICT naming input.slug for a taken slug, and BAD_USER_INPUT for bad fields', async () => {
    const [a, b] = await Promise.all([createTenant(), createTenant()]);
    const slug = unique('taken');
    await register(a, { slug });
    for (const tenant of [a, b]) {
      const again = await gql(
        registerServer,
        { input: { organizationId: tenant.organizationId, name: 'Again', slug, description: '', visibility: 'PUBLIC' } },
        { token: tenant.user.accessToken },
      );
      expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.slug' });
    }
    const cases = [
      [{ slug: 'Not A Slug' }, 'input.slug'],
      [{ slug: 'ab' }, 'input.slug'],
      [{ name: '   ' }, 'input.name'],
      [{ description: 'x'.repeat(2001) }, 'input.description'],
    ] as const;
    for (const [change, field] of cases) {
      const result = await gql(
        registerServer,
        { input: { organizationId: a.organizationId, name: 'n', slug: unique('ok'), description: '', visibility: 'PUBLIC', ...change } },
        { token: a.user.accessToken },
      );
      expect(result.errors?.[0]?.extensions, field).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(result.errors?.[0]?.message).toContain(field);
    }
  });

  it('writes mcp.server.published to the outbox with the version, and nothing for a refused one', async () => {
    const tenant = await createTenant();
    const server = await register(tenant);
    expect((await publish(tenant.user.accessToken, server.id, '2.0.0')).errors).toBeUndefined();
    expect((await publish(tenant.user.accessToken, server.id, '1.0.0')).errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    const read = () =>
      sql<{ type: string; payload: unknown; publishedAt: Date | null }>(
        'SELECT type, payload, "publishedAt" FROM mcp_registry.outbox_events WHERE "aggregateId" = $1',
        [server.id],
      );
    const rows = await read();
    expect(rows.map(({ type, payload }) => ({ type, payload }))).toEqual([
      {
        type: 'mcp.server.published',
        payload: { organizationId: tenant.organizationId, serverId: server.id, slug: server.slug, version: '2.0.0' },
      },
    ]);
    // The relay then publishes it to the event bus.
    const deadline = Date.now() + 10_000;
    let published = rows[0]?.publishedAt ?? null;
    while (!published && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      published = (await read())[0]?.publishedAt ?? null;
    }
    expect(published).toBeInstanceOf(Date);
  });

  it('takes a deprecated version out of latestVersion and out of the search on its tool names', async () => {
    const tenant = await createTenant();
    const server = await register(tenant);
    const [oldTool, newTool] = [word(), word()];
    await publish(tenant.user.accessToken, server.id, '1.0.0', [{ name: oldTool }]);
    await publish(tenant.user.accessToken, server.id, '2.0.0', [{ name: newTool }]);
    expect((await search(newTool)).totalCount).toBe(1);
    expect((await search(oldTool)).totalCount).toBe(0);

    const deprecated = await gql(
      deprecateVersion,
      { serverId: server.id, version: '2.0.0', reason: 'Leaks tokens' },
      { token: tenant.user.accessToken },
    );
    expect(deprecated.data!.deprecateMcpServerVersion).toEqual({ version: '2.0.0', deprecated: true, deprecationReason: 'Leaks tokens' });
    const found = await search(oldTool);
    expect(found.edges.map((e) => e.node)).toEqual([
      expect.objectContaining({ id: server.id, latestVersion: { version: '1.0.0', tools: [{ name: oldTool }] } }),
    ]);
    expect((await search(newTool)).totalCount).toBe(0);

    await gql(deprecateVersion, { serverId: server.id, version: '1.0.0' }, { token: tenant.user.accessToken });
    const none = await gql(
      'query ($slug: String!) { mcpServer(slug: $slug) { latestVersion { version } versions { version deprecated } } }',
      { slug: server.slug },
    );
    expect(none.data!.mcpServer).toEqual({
      latestVersion: null,
      versions: [
        { version: '2.0.0', deprecated: true },
        { version: '1.0.0', deprecated: true },
      ],
    });
    const missing = await gql(deprecateVersion, { serverId: server.id, version: '9.9.9' }, { token: tenant.user.accessToken });
    expect(missing.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
  });
});

describe('searching MCP servers', () => {
  it('ranks a match on the name above one on the tool names, above one on the description', async () => {
    const tenant = await createTenant();
    const term = word();
    // Registered oldest first: ranking, not recency, decides the order.
    const byName = await register(tenant, { name: `${term} gateway`, description: 'Talks to things' });
    const byTool = await register(tenant, { name: 'Toolbox', description: 'Has tools' });
    await publish(tenant.user.accessToken, byTool.id, '1.0.0', [{ name: `${term}_lookup` }]);
    const byDescription = await register(tenant, { name: 'Helper', description: `Works well with ${term} and friends` });
    await register(tenant, { name: 'Unrelated', description: 'Nothing to see' });

    const found = await search(term);
    expect(found.edges.map((e) => e.node.id)).toEqual([byName.id, byTool.id, byDescription.id]);
    expect(found.totalCount).toBe(3);
    // websearch syntax: an excluded word, and camelCase tool names split into words.
    expect((await search(`${term} -gateway`)).edges.map((e) => e.node.id).sort()).toEqual([byTool.id, byDescription.id].sort());
    const camel = [...randomBytes(8)].map((byte) => String.fromCharCode(97 + (byte % 26))).join('');
    const camelServer = await register(tenant, { name: 'Camel' });
    await publish(tenant.user.accessToken, camelServer.id, '1.0.0', [{ name: `read${camel[0]!.toUpperCase()}${camel.slice(1)}Files` }]);
    expect((await search(`${camel} files`)).edges.map((e) => e.node.id)).toEqual([camelServer.id]);
  });

  it('pages with opaque cursors, counting every match', async () => {
    const tenant = await createTenant();
    const term = word();
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await register(tenant, { name: `Paged ${i}`, description: `about ${term}` })).id);

    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await search(term, { first: 2, after });
      expect(page.totalCount).toBe(5);
      seen.push(...page.edges.map((e) => e.node.id));
      pages++;
      if (!page.pageInfo.hasNextPage) break;
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
      after = page.pageInfo.endCursor!;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(5);
    expect(new Set(seen)).toEqual(ids);

    // Without a search: newest first, here within the organization.
    const listing = `query ($id: ID!, $after: String) { organization(id: $id) { mcpServers(first: 3, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } } }`;
    const page1 = await gql(listing, { id: tenant.organizationId }, { token: tenant.user.accessToken });
    expect(page1.data!.organization.mcpServers).toMatchObject({
      totalCount: 5,
      pageInfo: { hasNextPage: true },
      edges: [{ node: { name: 'Paged 4' } }, { node: { name: 'Paged 3' } }, { node: { name: 'Paged 2' } }],
    });
    const page2 = await gql(
      listing,
      { id: tenant.organizationId, after: page1.data!.organization.mcpServers.pageInfo.endCursor },
      { token: tenant.user.accessToken },
    );
    expect(page2.data!.organization.mcpServers).toMatchObject({
      pageInfo: { hasNextPage: false },
      edges: [{ node: { name: 'Paged 1' } }, { node: { name: 'Paged 0' } }],
    });

    const all = await gql<{ mcpServers: { totalCount: number; edges: unknown[] } }>(
      '{ mcpServers(first: 100) { totalCount edges { node { id } } } }',
    );
    expect(all.data!.mcpServers.totalCount).toBeGreaterThanOrEqual(5);
    expect(all.data!.mcpServers.edges.length).toBe(Math.min(all.data!.mcpServers.totalCount, 100));
  });

  it('refuses a first outside 1..100 and a cursor that is not one, naming the argument', async () => {
    const light =
      'query ($search: String, $first: Int, $after: String) { mcpServers(search: $search, first: $first, after: $after) { totalCount } }';
    for (const first of [0, 101, -1]) {
      const result = await gql(light, { search: 'x', first });
      expect(result.errors?.[0]?.extensions, String(first)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    }
    for (const [term, after] of [
      ['x', 'garbage'],
      ['x', Buffer.from('["2020-01-01T00:00:00.000Z","00000000-0000-4000-8000-000000000000"]').toString('base64url')],
      [null, Buffer.from('[1,2]').toString('base64url')],
    ] as const) {
      const result = await gql(light, { search: term, after });
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    }
  });

  it('shows a private server to its organization (members, and API keys with mcp:read) only', async () => {
    const [owner, other] = await Promise.all([createTenant(['mcp:read']), createTenant(['mcp:read'])]);
    const ingestOnly = await gql<{ createApiKey: { key: string } }>(
      'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
      { input: { projectId: owner.projectId, name: 'ingest', scopes: ['usage:write'] } },
      { token: owner.user.accessToken },
    );
    const member = await registerUser('Member');
    await gql(
      addMember,
      { input: { organizationId: owner.organizationId, userId: member.userId, role: 'VIEWER' } },
      { token: owner.user.accessToken },
    );
    const term = word();
    const hidden = await register(owner, { name: `${term} internal`, visibility: 'PRIVATE' });
    const open = await register(owner, { name: `${term} public`, visibility: 'PUBLIC' });

    for (const token of [owner.user.accessToken, member.accessToken, owner.apiKey]) {
      const found = await search(term, { token });
      expect(found.totalCount).toBe(2);
      expect(found.edges.map((e) => e.node.id).sort()).toEqual([hidden.id, open.id].sort());
    }
    for (const token of [other.user.accessToken, other.apiKey, ingestOnly.data!.createApiKey.key, undefined]) {
      const found = await search(term, { token });
      expect(found.totalCount).toBe(1);
      expect(found.edges.map((e) => e.node.id)).toEqual([open.id]);
      const bySlug = await gql('query ($slug: String!) { mcpServer(slug: $slug) { id } }', { slug: hidden.slug }, { token });
      expect(bySlug.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
      // The publisher's listing leaves it out too (outsiders see the publisher's id only: accounts resolves the rest for members).
      const viaPublisher = await gql(
        'query ($slug: String!) { mcpServer(slug: $slug) { publisher { id mcpServers { totalCount edges { node { id } } } } } }',
        { slug: open.slug },
        { token },
      );
      expect(viaPublisher.errors).toBeUndefined();
      expect(viaPublisher.data!.mcpServer.publisher).toEqual({
        id: owner.organizationId,
        mcpServers: { totalCount: 1, edges: [{ node: { id: open.id } }] },
      });
    }
    const asMember = await gql(
      'query ($id: ID!) { organization(id: $id) { name mcpServers { totalCount } } }',
      { id: owner.organizationId },
      { token: member.accessToken },
    );
    expect(asMember.data!.organization).toEqual({ name: 'Tenant', mcpServers: { totalCount: 2 } });
  });

  it("tells the router's cost analysis how many servers a page holds", async () => {
    const query = (first: number) =>
      `{ mcpServers(search: "x", first: ${first}) { edges { node { id latestVersion { tools { name } } } } } }`;
    const cost = async (first: number) =>
      (await gql(query(first), {}, { headers: { 'x-include-cost': 'true' } })).extensions?.['cost']?.estimated as number;
    const [one, ten] = [await cost(1), await cost(10)];
    expect(one).toBeGreaterThan(0);
    expect(ten).toBeGreaterThan(one * 5);
  });
});

describe('public servers seen from outside their organization', () => {
  it("show their publisher's name to other tenants and anonymous callers, but not its projects", async () => {
    const owner = await createTenant();
    const stranger = await createTenant();
    const name = word();
    const server = await register(owner, { name, visibility: 'PUBLIC' });
    expect((await publish(owner.user.accessToken, server.id, '1.0.0')).errors).toBeUndefined();
    const query = 'query ($search: String) { mcpServers(search: $search) { edges { node { id publisher { id name projects { id } } } } } }';
    const asStranger = await gql(query, { search: name }, { token: stranger.user.accessToken });
    expect(asStranger.errors).toBeUndefined();
    expect(asStranger.data!.mcpServers.edges[0].node.publisher).toEqual({ id: owner.organizationId, name: 'Tenant', projects: [] });
    // Anonymous callers lack projects:read, since they lack credentials: the router removes that field and says so.
    const anonymous = await gql(query, { search: name });
    expect(anonymous.data!.mcpServers.edges[0].node.publisher).toEqual({ id: owner.organizationId, name: 'Tenant', projects: null });
    expect(anonymous.errors?.map((e) => e.extensions.code)).toEqual(['UNAUTHENTICATED']);
  });
});
