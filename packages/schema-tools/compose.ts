import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { composeServices } from '@apollo/composition';
import { Supergraph } from '@apollo/federation-internals';
import { printSubgraphSchema } from '@apollo/subgraph';
import { parse, Source, type GraphQLSchema } from 'graphql';
import { parse as parseYaml } from 'yaml';

export interface SubgraphConfig {
  name: string;
  routingUrl: string;
  schemaFile: string;
}

export const repoRoot = resolve(import.meta.dirname, '../..');
export const supergraphFile = join(repoRoot, 'schema/supergraph.graphql');

export async function readSupergraphConfig(root = repoRoot): Promise<SubgraphConfig[]> {
  const config = parseYaml(await readFile(join(root, 'supergraph.yaml'), 'utf8')) as {
    subgraphs: Record<string, { routing_url: string; schema: { file: string } }>;
  };
  return Object.entries(config.subgraphs).map(([name, subgraph]) => ({
    name,
    routingUrl: subgraph.routing_url,
    schemaFile: join(root, subgraph.schema.file),
  }));
}

/** Prints a subgraph's SDL from its Pothos schema module. */
export async function printSubgraph(name: string, root = repoRoot): Promise<string> {
  const module = (await import(pathToFileURL(join(root, 'subgraphs', name, 'schema/index.ts')).href)) as { schema: GraphQLSchema };
  return `${printSubgraphSchema(module.schema).trim()}\n`;
}

export type Composition =
  | { ok: true; subgraphs: { config: SubgraphConfig; sdl: string }[]; supergraphSdl: string }
  | { ok: false; errors: string[] };

/** Composes the subgraphs; failures come back as readable messages naming subgraph and location. */
export async function compose(configs: SubgraphConfig[], sdlOf: (config: SubgraphConfig) => Promise<string>): Promise<Composition> {
  const subgraphs = await Promise.all(configs.map(async (config) => ({ config, sdl: await sdlOf(config) })));
  const result = composeServices(
    subgraphs.map(({ config, sdl }) => ({ name: config.name, url: config.routingUrl, typeDefs: parse(new Source(sdl, config.name)) })),
  );
  if (result.errors) {
    return {
      ok: false,
      errors: result.errors.map((error) => {
        const where = (error.nodes ?? [])
          .map((node) => (node.loc ? `${node.loc.source.name}:${node.loc.startToken.line}:${node.loc.startToken.column}` : undefined))
          .filter(Boolean);
        const code = (error.extensions?.['code'] as string | undefined) ?? 'COMPOSITION_ERROR';
        return `${code}: ${error.message}${where.length ? ` (at ${where.join(', ')})` : ''}`;
      }),
    };
  }
  return { ok: true, subgraphs, supergraphSdl: `${result.supergraphSdl.trim()}\n` };
}

/**
 * The API schema of a supergraph: what clients can query, without the join__/link machinery.
 * The SECURITY features (@authenticated, @requiresScopes) are the router's to enforce, so they
 * are not checked for support here.
 */
export function apiSchemaOf(supergraphSdl: string): GraphQLSchema {
  return Supergraph.build(supergraphSdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
}
