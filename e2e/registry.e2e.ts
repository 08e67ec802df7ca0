import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compose, printSubgraph, publishSupergraph, readSupergraphConfig } from '../packages/schema-tools/index.ts';
import { supergraphFile } from '../packages/schema-tools/compose.ts';
import { createTenant, gql, stack } from './client.ts';
import { startExtraRouter } from './extra-router.ts';

// A router that serves the newest version in the schema registry, polled.
let router: Awaited<ReturnType<typeof startExtraRouter>>;
beforeAll(async () => {
  router = await startExtraRouter('router-registry', { SUPERGRAPH_SOURCE: 'registry', SUPERGRAPH_POLL_MS: '200' });
});
afterAll(() => router.stop());

it('picks up a published supergraph without a restart', async () => {
  const tenant = await createTenant();
  const query = 'query ($id: ID!) { organization(id: $id) { id } }';
  const current = await readFile(supergraphFile, 'utf8');
  expect(
    (await publishSupergraph({ databaseUrl: stack.databaseUrl, supergraphSdl: current, subgraphs: {}, author: 'e2e' })).id,
  ).toBeGreaterThan(0);
  expect((await gql(query, { id: tenant.organizationId }, { token: tenant.user.accessToken, url: router.url })).data).toEqual({
    organization: { id: tenant.organizationId },
  });

  // Publish a supergraph of identity alone: accounts' fields disappear from the live router.
  const composed = await compose(
    (await readSupergraphConfig()).filter((s) => s.name === 'identity'),
    (config) => printSubgraph(config.name),
  );
  if (!composed.ok) throw new Error(composed.errors.join('\n'));
  const published = await publishSupergraph({
    databaseUrl: stack.databaseUrl,
    supergraphSdl: composed.supergraphSdl,
    subgraphs: { identity: composed.subgraphs[0]!.sdl },
    author: 'e2e',
  });
  expect(published.published).toBe(true);
  const deadline = Date.now() + 10_000;
  let code: string | undefined;
  while (Date.now() < deadline && code !== 'GRAPHQL_VALIDATION_FAILED') {
    code = (await gql(query, { id: tenant.organizationId }, { token: tenant.user.accessToken, url: router.url })).errors?.[0]?.extensions
      .code;
    if (code !== 'GRAPHQL_VALIDATION_FAILED') await new Promise((r) => setTimeout(r, 200));
  }
  expect(code).toBe('GRAPHQL_VALIDATION_FAILED');
  expect((await gql('{ me { id } }', {}, { token: tenant.user.accessToken, url: router.url })).data).toEqual({
    me: { id: tenant.user.userId },
  });
});
