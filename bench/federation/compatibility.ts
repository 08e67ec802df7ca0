// `pnpm bench:compatibility`: the jest tests of @apollo/federation-subgraph-compatibility 1.2.1
// with this router in place of Apollo Router, and without the downloads its own modes need (rover,
// the router binary, pm2, docker). See compatibility.md for what it runs and why.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { compose } from '../../packages/schema-tools/compose.ts';
import { repoRoot } from '../../scripts/stack.ts';
import { answersGraphQL } from './check.ts';
import { startIdentity } from './identity.ts';
import { startRouter } from './router.ts';
import { cleanupStack, deleteRedisKeys, freePorts, startProcess } from '../lib/harness.ts';
import { table } from '../lib/report.ts';

const compatibilityPackage = createRequire(join(import.meta.dirname, '..', 'package.json')).resolve(
  '@apollo/federation-subgraph-compatibility/package.json',
);
/** The tests live in the CLI's dependency, @apollo/federation-subgraph-compatibility-tests. */
const testsDir = dirname(createRequire(compatibilityPackage).resolve('@apollo/federation-subgraph-compatibility-tests/package.json'));
const requireFromTests = createRequire(join(testsDir, 'package.json'));

interface JestAssertion {
  ancestorTitles: string[];
  fullName: string;
  status: 'passed' | 'failed' | 'pending';
  failureMessages: string[];
}

interface JestOutput {
  numPassedTests: number;
  numFailedTests: number;
  testResults: { name: string; message: string; assertionResults: JestAssertion[] }[];
}

/**
 * The suite's client module with the URLs it hard-codes (router http://localhost:4000/, users and
 * inventory on 4002 and 4003) taken from the environment instead, since those ports belong to
 * the development stack here. It also records which tests call the router.
 */
const clientShim = (makeFetchHappen: string) => `'use strict';
const { appendFileSync } = require('node:fs');
const fetch = require(${JSON.stringify(makeFetchHappen)});

async function graphqlRequest(url, req, headers) {
  const resp = await fetch(url, {
    headers: { accept: 'application/json', 'content-type': 'application/json', ...(headers ?? {}) },
    method: 'POST',
    body: JSON.stringify(req),
  });
  if (resp.ok && resp.headers.get('content-type')?.startsWith('application/json')) return resp.json();
  return resp.text();
}

exports.ROUTER_URL = process.env.ROUTER_URL;
exports.graphqlRequest = graphqlRequest;
exports.productsRequest = (req, headers) => graphqlRequest(process.env.PRODUCTS_URL, req, headers);
exports.routerRequest = (req, headers) => {
  appendFileSync(process.env.ROUTER_CALLS_FILE, expect.getState().currentTestName + '\\n');
  return graphqlRequest(process.env.ROUTER_URL, req, headers);
};
`;

async function runJest(workDir: string, env: Record<string, string>): Promise<JestOutput> {
  const configFile = join(workDir, 'jest.config.json');
  const shim = join(workDir, 'client.cjs');
  await writeFile(shim, clientShim(requireFromTests.resolve('make-fetch-happen')));
  await writeFile(
    configFile,
    JSON.stringify({
      rootDir: testsDir,
      roots: ['<rootDir>/dist/tests'],
      testMatch: ['**/*.test.js'],
      testEnvironment: 'node',
      // The tests are inside node_modules, which jest skips unless told otherwise.
      haste: { retainAllFiles: true },
      testPathIgnorePatterns: [],
      transform: {},
      moduleNameMapper: { '^\\.\\./utils/client$': shim },
    }),
  );
  const outputFile = join(workDir, 'jest-results.json');
  const child = spawn(
    process.execPath,
    [requireFromTests.resolve('jest/bin/jest'), '--ci', '--json', '--outputFile', outputFile, '--config', configFile],
    {
      cwd: workDir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const log = createWriteStream(join(workDir, 'jest.log'));
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  // jest exits 1 when a test fails; anything else means it could not run them.
  if (code !== 0 && code !== 1) throw new Error(`jest exited with ${code}: see ${join(workDir, 'jest.log')}`);
  return JSON.parse(await readFile(outputFile, 'utf8')) as JestOutput;
}

async function main(): Promise<number> {
  const runId = randomBytes(4).toString('hex');
  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const redisKeyPrefix = `mw-compatibility-${runId}:`;
  const workDir = await mkdtemp(join(tmpdir(), `mindweave-compatibility-${runId}-`));
  const cleanup = cleanupStack();
  let failed = true;
  const onSignal = () => {
    process.stderr.write(`\ninterrupted: stopping everything; logs kept in ${workDir}\n`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    cleanup.add('delete Redis keys', () => deleteRedisKeys(redisUrl, redisKeyPrefix));
    const [productsPort, usersPort, inventoryPort, routerPort, jwksPort] = await freePorts(5);
    const subgraphs = {
      products: { url: `http://127.0.0.1:${productsPort}/`, schemaFile: join(testsDir, 'products.graphql') },
      users: { url: `http://127.0.0.1:${usersPort}/`, schemaFile: join(testsDir, 'dist/subgraphs/users/users.graphql') },
      inventory: { url: `http://127.0.0.1:${inventoryPort}/`, schemaFile: join(testsDir, 'dist/subgraphs/inventory/inventory.graphql') },
    };
    process.stdout.write(`compatibility ${runId}: @apollo/federation-subgraph-compatibility-tests in ${testsDir}, logs ${workDir}\n`);

    // The suite's own users and inventory subgraphs (bundled Apollo Servers), and our products.
    const starts = [
      { name: 'users', args: [join(testsDir, 'dist/subgraphs/users/index.js')], env: { USERS_PORT: String(usersPort) } },
      { name: 'inventory', args: [join(testsDir, 'dist/subgraphs/inventory/index.js')], env: { INVENTORY_PORT: String(inventoryPort) } },
      {
        name: 'products',
        args: ['--conditions=development', '--import', 'tsx', join(import.meta.dirname, 'compatibility/products.ts')],
        env: { PORT: String(productsPort), PRODUCTS_SCHEMA: subgraphs.products.schemaFile },
      },
    ] as const;
    for (const start of starts) {
      const started = await startProcess({
        name: start.name,
        command: process.execPath,
        args: [...start.args],
        env: { ...process.env, ...start.env },
        cwd: repoRoot,
        ready: () => answersGraphQL(subgraphs[start.name].url),
        logFile: join(workDir, `${start.name}.log`),
      });
      cleanup.add(`stop ${start.name}`, () => started.stop());
    }

    // What `rover supergraph compose` does in the suite's docker mode, with @apollo/composition.
    const composed = await compose(
      Object.entries(subgraphs).map(([name, s]) => ({ name, routingUrl: s.url, schemaFile: s.schemaFile })),
      (config) => readFile(config.schemaFile, 'utf8'),
    );
    if (!composed.ok) throw new Error(`composition failed:\n${composed.errors.join('\n')}`);
    const supergraphPath = join(workDir, 'supergraph.graphql');
    await writeFile(supergraphPath, composed.supergraphSdl);

    const identity = await startIdentity(jwksPort ?? 0);
    cleanup.add('stop JWKS', () => identity.stop());
    const router = await startRouter({
      port: routerPort ?? 0,
      supergraphPath,
      subgraphUrls: {},
      jwksUrl: identity.jwksUrl,
      redisUrl,
      redisKeyPrefix,
      signingSecret: randomBytes(32).toString('base64url'),
      logFile: join(workDir, 'router.log'),
    });
    cleanup.add('stop router', () => router.stop());
    process.stdout.write(`router ready at ${router.url}; running the suite's jest tests\n`);

    const routerCalls = join(workDir, 'router-calls.txt');
    await writeFile(routerCalls, '');
    const results = await runJest(workDir, {
      PRODUCTS_URL: subgraphs.products.url,
      ROUTER_URL: router.url,
      ROUTER_CALLS_FILE: routerCalls,
    });
    const throughRouter = new Set((await readFile(routerCalls, 'utf8')).split('\n').filter(Boolean));

    const assertions = results.testResults.flatMap((file) => file.assertionResults);
    process.stdout.write(
      `\n${table(
        ['test', 'through', 'result'],
        assertions.map((a) => [a.fullName, throughRouter.has(a.fullName) ? 'router' : 'products', a.status === 'passed' ? 'pass' : 'FAIL']),
      )}\n`,
    );
    for (const a of assertions.filter((x) => x.status === 'failed')) {
      process.stdout.write(`\nFAIL ${a.fullName}\n${a.failureMessages.join('\n').split('\n').slice(0, 12).join('\n')}\n`);
    }
    for (const file of results.testResults.filter((f) => !f.assertionResults.length && f.message)) {
      process.stdout.write(`\n${file.name} did not run:\n${file.message.slice(0, 1500)}\n`);
    }

    // The suite's own verdicts: each feature passes when none of its tests failed.
    const { TESTS } = requireFromTests(join(testsDir, 'dist/testRunner.js')) as { TESTS: { assertion: string; required: boolean }[] };
    const passed = (feature: string) => !assertions.some((a) => (a.ancestorTitles[0] ?? a.fullName) === feature && a.status === 'failed');
    process.stdout.write(
      `\n${table(
        ['feature (as the suite reports it)', 'required', 'result'],
        TESTS.map((t) => [t.assertion, t.required ? 'yes' : 'no', passed(t.assertion) ? 'pass' : 'FAIL']),
      )}\n`,
    );

    const routerTests = assertions.filter((a) => throughRouter.has(a.fullName));
    const routerFailed = routerTests.filter((a) => a.status !== 'passed').length;
    process.stdout.write(
      `\n${results.numPassedTests} passed, ${results.numFailedTests} failed; through the router: ${routerTests.length - routerFailed} of ${routerTests.length} passed\n`,
    );
    failed = results.numFailedTests > 0 || assertions.length === 0;
    return failed ? 1 : 0;
  } catch (error) {
    process.stderr.write(`\ncompatibility run failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await cleanup.runAll();
    if (failed) process.stderr.write(`logs kept in ${workDir}\n`);
    else await rm(workDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
