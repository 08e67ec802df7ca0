import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const here = import.meta.dirname;
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [tsc, ...args], { cwd: here }).catch((error: { stdout?: string }) => {
    throw new Error(`tsc ${args.join(' ')} failed:\n${error.stdout ?? String(error)}`);
  });
// Inside the package, so that the build resolves its dependencies as an installed package would.
const outDir = join(here, 'node_modules/.cache', `build-test-${randomBytes(4).toString('hex')}`);
afterAll(() => rm(outDir, { recursive: true, force: true }));

describe('the published build', () => {
  it('emits the JavaScript and declarations package.json points at, usable by a strict consumer', async () => {
    await run(['-p', 'tsconfig.build.json', '--outDir', outDir]);
    const pkg = JSON.parse(await readFile(join(here, 'package.json'), 'utf8')) as { exports: { '.': { types: string; default: string } } };
    const inDist = (path: string) => join(outDir, path.replace(/^\.\/dist\//, ''));
    await expect(readFile(inDist(pkg.exports['.'].types), 'utf8')).resolves.toContain('createMindWeaveClient');

    const sdk = (await import(pathToFileURL(inDist(pkg.exports['.'].default)).href)) as Record<string, unknown>;
    expect(typeof sdk['createMindWeaveClient']).toBe('function');
    const manifest = JSON.parse(await readFile(join(here, 'persisted-documents.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(manifest)).toContain((sdk['MeDocument'] as { __meta__: { hash: string } }).__meta__.hash);

    // A consumer without this repository's settings (no .ts imports) type-checks against the declarations.
    const consumer = join(outDir, 'consumer.ts');
    await writeFile(
      consumer,
      `import { createMindWeaveClient, MeDocument, UsageSeriesDocument, type MindWeaveError } from './index.js';
const client = createMindWeaveClient({ url: 'http://localhost:4000/graphql', auth: { apiKey: 'mw_sk_x' } });
export async function use(): Promise<string | undefined> {
  const { me } = await client.request(MeDocument);
  const series = await client.request(UsageSeriesDocument, { organizationId: 'o', from: 'a', to: 'b', granularity: 'HOUR' });
  // @ts-expect-error variables are required
  await client.request(UsageSeriesDocument);
  const code: MindWeaveError['code'] = 'RATE_LIMITED';
  return me?.email ?? String(series.usageSeries[0]?.costUsd) + code;
}
`,
    );
    await run([
      '--noEmit',
      '--strict',
      '--skipLibCheck',
      'false',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      consumer,
    ]);
  }, 120_000);
});
