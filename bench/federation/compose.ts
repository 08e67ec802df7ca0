// `tsx bench/federation/compose.ts` writes supergraph.graphql from the four subgraphs' SDL;
// `--check` fails (exit 1) when the committed file is stale instead. The routing URLs are
// placeholders: every gateway in the runner is pointed at the ports it actually started.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildSubgraphSchema, printSubgraphSchema } from '@apollo/subgraph';
import { compose, type SubgraphConfig } from '../../packages/schema-tools/compose.ts';
import { subgraphNames, subgraphs, type SubgraphName } from './subgraphs/index.ts';

export const supergraphPath = join(import.meta.dirname, 'supergraph.graphql');

/** The port a subgraph's placeholder routing URL names, 4201 to 4204. */
export const placeholderUrl = (name: SubgraphName) => `http://127.0.0.1:${4201 + subgraphNames.indexOf(name)}/graphql`;

export const subgraphSdl = (name: SubgraphName) => `${printSubgraphSchema(buildSubgraphSchema(subgraphs[name])).trim()}\n`;

export async function composeSupergraph(): Promise<string> {
  const configs: SubgraphConfig[] = subgraphNames.map((name) => ({ name, routingUrl: placeholderUrl(name), schemaFile: `${name}.ts` }));
  const result = await compose(configs, async (config) => subgraphSdl(config.name as SubgraphName));
  if (!result.ok) throw new Error(`composition failed:\n${result.errors.join('\n')}`);
  return result.supergraphSdl;
}

async function main(): Promise<number> {
  const supergraph = await composeSupergraph();
  if (process.argv.includes('--check')) {
    const committed = await readFile(supergraphPath, 'utf8').catch(() => '');
    if (committed === supergraph) return 0;
    process.stderr.write(`${supergraphPath} is stale: run \`tsx bench/federation/compose.ts\`\n`);
    return 1;
  }
  await writeFile(supergraphPath, supergraph);
  process.stdout.write(`wrote ${supergraphPath}\n`);
  return 0;
}

if (process.argv[1] === import.meta.filename) process.exitCode = await main();
