import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { compose, printSubgraph, readSupergraphConfig, repoRoot, supergraphFile } from './compose.ts';

describe('the committed schema', () => {
  it('matches what the subgraphs print and compose to (run `pnpm schema compose` when this fails)', async () => {
    const configs = await readSupergraphConfig();
    const result = await compose(configs, (config) => printSubgraph(config.name));
    if (!result.ok) throw new Error(result.errors.join('\n'));
    for (const { config, sdl } of result.subgraphs) expect(await readFile(config.schemaFile, 'utf8'), config.name).toBe(sdl);
    expect(await readFile(supergraphFile, 'utf8')).toBe(result.supergraphSdl);
    // Composing eight subgraphs is CPU-bound: on a busy machine it outlasts vitest's default 5 s.
  }, 60_000);

  it('reports composition errors with the subgraph and location', async () => {
    const configs = [
      { name: 'a', routingUrl: 'http://a/graphql', schemaFile: 'a.graphql' },
      { name: 'b', routingUrl: 'http://b/graphql', schemaFile: 'b.graphql' },
    ];
    const sdl: Record<string, string> = {
      a: 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])\ntype Query { thing: Thing }\ntype Thing @key(fields: "id") { id: ID! size: Int }',
      b: 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])\ntype Query { other: Thing }\ntype Thing @key(fields: "id") { id: ID! size: String }',
    };
    const result = await compose(configs, async (config) => sdl[config.name]!);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toMatch(/Thing\.size.*\(at [ab]:\d+:\d+/s);
  });
});

describe('supergraph.yaml', () => {
  it("names as federation_version the @apollo/composition that composes, which reads every subgraph's federation link", async () => {
    const config = parseYaml(await readFile(join(repoRoot, 'supergraph.yaml'), 'utf8')) as { federation_version: string };
    const composition = createRequire(join(repoRoot, 'packages/schema-tools/package.json'))('@apollo/composition/package.json') as {
      version: string;
    };
    expect(config.federation_version).toBe(`=${composition.version}`);
    const [major, minor] = composition.version.split('.').map(Number) as [number, number];
    for (const { schemaFile, name } of await readSupergraphConfig()) {
      const linked = /specs\.apollo\.dev\/federation\/v(\d+)\.(\d+)/.exec(await readFile(schemaFile, 'utf8'));
      expect(linked, name).not.toBeNull();
      expect(Number(linked![1]) * 1_000 + Number(linked![2]), `${name} links federation v${linked![1]}.${linked![2]}`).toBeLessThanOrEqual(
        major * 1_000 + minor,
      );
    }
  });
});
