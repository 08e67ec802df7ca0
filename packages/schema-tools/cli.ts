#!/usr/bin/env -S node --import tsx
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { checkSchema, formatCheckReport, parseApprovals, resolveBaseline } from './check.ts';
import { compose, printSubgraph, readSupergraphConfig, repoRoot, supergraphFile, type Composition } from './compose.ts';
import { publishSupergraph } from './publish.ts';
import { apiSchemaOf } from './compose.ts';
import { clientLabel, readTraffic, unusedFields } from './usage.ts';

const usage = `usage: schema <compose|check|publish|unused> [options]
  compose            print each subgraph's SDL into schema/, compose schema/supergraph.graphql and
                     regenerate the SDK's types and manifest from it
  check              fail on composition errors, stale files in schema/, or breaking changes
                     against the last published supergraph that schema/approvals.json does not approve
    --json           the report as JSON
    --base <ref>     the git ref whose schema/supergraph.graphql is the baseline; given, it wins
                     over the registry (default: the registry's latest version, else HEAD; CI on
                     a pull request: its target branch)
    --supergraph <file>  check this supergraph instead of composing the subgraphs
    --usage-days <n>     traffic: a breaking change is in use when an operation recorded in the
                     registry at DATABASE_URL in the last n days uses it (default 7); one nothing
                     uses passes without approval
    --exclude-client <name>  traffic of this client does not count (repeatable)
    --min-requests <n>   an operation counts for a client from n requests in the period (default 1)
  publish            record the composed supergraph and subgraphs as a new registry version
                     in the PostgreSQL database at DATABASE_URL
    --author <who>   default: git config user.email, then $USER
    --json           the result as JSON
  unused             the fields of the composed schema that no operation recorded in the registry
                     at DATABASE_URL used in the last --days (default 30); --exclude-client,
                     --min-requests and --json as for check`;

const approvalsFile = join(repoRoot, 'schema/approvals.json');
const manifestFile = join(repoRoot, 'packages/sdk/persisted-documents.json');
const defaultDatabaseUrl = 'postgresql://postgres@127.0.0.1:5432/mindweave';

async function readJson<T>(path: string, fallback: T, parseContent: (json: string) => T = JSON.parse): Promise<T> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  return text === undefined ? fallback : parseContent(text);
}

function filesOf(composition: Composition & { ok: true }) {
  return [
    ...composition.subgraphs.map(({ config, sdl }) => ({ path: config.schemaFile, content: sdl })),
    { path: supergraphFile, content: composition.supergraphSdl },
  ];
}

async function staleFiles(composition: Composition & { ok: true }): Promise<string[]> {
  const stale = [];
  for (const file of filesOf(composition)) {
    const committed = await readFile(file.path, 'utf8').catch(() => '');
    if (committed !== file.content) stale.push(relative(repoRoot, file.path));
  }
  return stale;
}

function author(option: string | undefined): string {
  if (option) return option;
  try {
    const email = execFileSync('git', ['config', 'user.email'], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (email) return email;
  } catch {
    // no git identity: fall through
  }
  return process.env['USER'] || 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      base: { type: 'string' },
      author: { type: 'string' },
      supergraph: { type: 'string' },
      'usage-days': { type: 'string', default: '7' },
      days: { type: 'string', default: '30' },
      'exclude-client': { type: 'string', multiple: true, default: [] },
      'min-requests': { type: 'string', default: '1' },
    },
  });
  const [command] = positionals;
  if (command !== 'compose' && command !== 'check' && command !== 'publish' && command !== 'unused') {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const count = (name: string, value: string) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`--${name} must be a positive whole number, not ${value}`);
    return parsed;
  };
  const trafficFilter = {
    excludeClients: values['exclude-client'].map((name) => (name === clientLabel('') ? '' : name)),
    minRequests: count('min-requests', values['min-requests']),
  };
  const configs = await readSupergraphConfig();
  const given = command === 'check' || command === 'unused' ? values.supergraph : undefined;
  // A given supergraph is checked as it is: there are no committed files to compare it with.
  const composition: Composition = given
    ? { ok: true, supergraphSdl: await readFile(given, 'utf8'), subgraphs: [] }
    : await compose(configs, (config) => printSubgraph(config.name));

  if (command === 'unused') {
    if (!composition.ok) {
      process.stderr.write(`Composition failed:\n${composition.errors.map((e) => `  - ${e}`).join('\n')}\n`);
      return 1;
    }
    const days = count('days', values.days);
    const traffic = await readTraffic(process.env['DATABASE_URL'], { days, ...trafficFilter });
    if (traffic.source === 'none') {
      process.stderr.write(`No traffic to tell unused fields by: ${traffic.description}.\n`);
      return 1;
    }
    const unused = unusedFields(apiSchemaOf(composition.supergraphSdl), traffic.operations);
    if (values.json) process.stdout.write(`${JSON.stringify({ days, traffic: traffic.description, unused }, null, 2)}\n`);
    else
      process.stdout.write(
        `Fields no operation used in the last ${days} day(s) (${traffic.description}): ${unused.length}\n${unused.map((c) => `  ${c}`).join('\n')}\n`,
      );
    return 0;
  }

  if (command === 'check') {
    const report = await checkSchema({
      composition,
      staleFiles: composition.ok && !given ? await staleFiles(composition) : [],
      baseline: await resolveBaseline({
        databaseUrl: process.env['DATABASE_URL'],
        gitRef: values.base ?? 'HEAD',
        gitRefGiven: values.base !== undefined,
        root: repoRoot,
      }),
      manifest: await readJson<Record<string, string>>(manifestFile, {}),
      approvals: await readJson(approvalsFile, {}, parseApprovals),
      traffic: await readTraffic(process.env['DATABASE_URL'], { days: count('usage-days', values['usage-days']), ...trafficFilter }),
    });
    (report.ok ? process.stdout : process.stderr).write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatCheckReport(report));
    return report.ok ? 0 : 1;
  }

  if (!composition.ok) {
    process.stderr.write(`Composition failed:\n${composition.errors.map((e) => `  - ${e}`).join('\n')}\n`);
    return 1;
  }
  if (command === 'compose') {
    const files = filesOf(composition);
    await Promise.all(files.map((file) => writeFile(file.path, file.content)));
    process.stdout.write(`Wrote ${files.map((f) => relative(repoRoot, f.path)).join(', ')}\n`);
    // The SDK's types and trusted documents manifest derive from the supergraph: keep them in step.
    try {
      execFileSync('pnpm', ['--silent', '--filter', '@mindweave/sdk', 'codegen'], { cwd: repoRoot, stdio: 'pipe' });
    } catch (error) {
      const output = `${(error as { stdout?: Buffer }).stdout ?? ''}${(error as { stderr?: Buffer }).stderr ?? ''}`;
      process.stderr.write(`The SDK's codegen failed (does an operation in packages/sdk/operations/ use what changed?):\n${output}\n`);
      return 1;
    }
    process.stdout.write('Regenerated the SDK: packages/sdk/src/gql/, packages/sdk/persisted-documents.json\n');
    return 0;
  }

  // The registry holds what the repository holds: publish only a composed, committed schema.
  const stale = await staleFiles(composition);
  if (stale.length) {
    process.stderr.write(`Not published: stale schema files (run \`pnpm schema compose\`, check and commit): ${stale.join(', ')}\n`);
    return 1;
  }
  const result = await publishSupergraph({
    databaseUrl: process.env['DATABASE_URL'] || defaultDatabaseUrl,
    supergraphSdl: composition.supergraphSdl,
    subgraphs: Object.fromEntries(composition.subgraphs.map(({ config, sdl }) => [config.name, sdl])),
    author: author(values.author),
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else if (!result.published) {
    const latest = result.latestId === result.id ? '' : ` (the latest is version ${result.latestId})`;
    process.stdout.write(`Already published as version ${result.id} (${result.hash.slice(0, 12)})${latest}: nothing to do.\n`);
  } else {
    const count = (level: string) => result.changes.filter((c) => c.criticality === level).length;
    const against =
      result.previousId === null
        ? 'the first version'
        : `${result.changes.length} change(s) from version ${result.previousId}: ${count('BREAKING')} breaking, ${count('DANGEROUS')} dangerous, ${count('NON_BREAKING')} safe`;
    process.stdout.write(`Published version ${result.id} (${result.hash.slice(0, 12)}): ${against}.\n`);
    for (const change of result.changes.filter((c) => c.criticality !== 'NON_BREAKING'))
      process.stdout.write(`  ${change.criticality} ${change.message}\n`);
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
});
// Subgraph modules hold database pools that would keep the process alive.
process.exit();
