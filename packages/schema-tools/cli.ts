#!/usr/bin/env -S node --import tsx
import { readFile, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { compose, printSubgraph, readSupergraphConfig, repoRoot, supergraphFile } from './compose.ts';

const usage = `usage: schema <compose|check>
  compose  print each subgraph's SDL into schema/ and compose schema/supergraph.graphql
  check    fail on composition errors or when the committed files in schema/ are stale`;

async function main(command: string | undefined): Promise<number> {
  if (command !== 'compose' && command !== 'check') {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const configs = await readSupergraphConfig();
  const result = await compose(configs, (config) => printSubgraph(config.name));
  if (!result.ok) {
    process.stderr.write(`Composition failed:\n${result.errors.map((e) => `  - ${e}`).join('\n')}\n`);
    return 1;
  }
  const files = [...result.subgraphs.map(({ config, sdl }) => ({ path: config.schemaFile, content: sdl })), { path: supergraphFile, content: result.supergraphSdl }];
  if (command === 'compose') {
    await Promise.all(files.map((file) => writeFile(file.path, file.content)));
    process.stdout.write(`Wrote ${files.map((f) => relative(repoRoot, f.path)).join(', ')}\n`);
    return 0;
  }
  const stale = [];
  for (const file of files) {
    const committed = await readFile(file.path, 'utf8').catch(() => '');
    if (committed !== file.content) stale.push(relative(repoRoot, file.path));
  }
  if (stale.length) {
    process.stderr.write(`Stale schema files (run \`pnpm schema compose\` and commit): ${stale.join(', ')}\n`);
    return 1;
  }
  process.stdout.write('Schema is composed and up to date.\n');
  return 0;
}

process.exitCode = await main(process.argv[2]);
// Subgraph modules hold database pools that would keep the process alive.
process.exit();
