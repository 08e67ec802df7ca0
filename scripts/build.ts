// `pnpm build`: compiles every service and the packages they share to JavaScript, each package into
// its own `dist/` (its package.json sends imports there outside the `development` condition, which
// the development commands set), so that production runs `node <package>/dist/main.js` with no
// TypeScript at run time. Types are not checked here (`pnpm typecheck` does): one TypeScript program
// over the whole workspace emits in a few seconds. The SDK keeps its own build (declarations, for
// publishing), and the dashboard's Vite build runs in scripts/setup.sh.
import { cp, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { repoRoot } from './stack.ts';

/** The workspace packages that run in production, or that what runs imports. */
export const compiledPackages = [
  'packages/errors',
  'packages/events',
  'packages/jobs',
  'packages/policy-engine',
  'packages/schema-tools',
  'packages/service-kit',
  'packages/subgraph-kit',
  'packages/telemetry',
  'packages/usage-totals',
  'router',
  'workers',
  ...(await subgraphs()),
];

async function subgraphs() {
  return (await readdir(join(repoRoot, 'subgraphs'), { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => `subgraphs/${entry.name}`);
}

/** What runs: no tests, fixtures, or tool configuration. */
const isSource = (path: string) =>
  path.endsWith('.ts') &&
  !path.endsWith('.d.ts') &&
  !/\.(int\.)?test\.ts$/.test(path) &&
  !/(^|\/)(fixtures|node_modules|dist)\//.test(path) &&
  !path.endsWith('prisma.config.ts');

async function sourcesOf(dir: string): Promise<string[]> {
  const entries = await readdir(join(repoRoot, dir), { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(repoRoot, join(entry.parentPath, entry.name)))
    .filter((path) => isSource(relative(dir, path)));
}

function compilerOptions(outDir: string): ts.CompilerOptions {
  const config = ts.readConfigFile(join(repoRoot, 'tsconfig.base.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, repoRoot);
  return {
    ...options,
    noEmit: false,
    noCheck: true,
    allowImportingTsExtensions: false,
    // `./db.ts` in the source is `./db.js` in the output.
    rewriteRelativeImportExtensions: true,
    rootDir: repoRoot,
    outDir,
    sourceMap: true,
    declaration: false,
    customConditions: ['development'],
  };
}

export async function build() {
  const started = performance.now();
  const staging = join(repoRoot, '.mindweave/build');
  await rm(staging, { recursive: true, force: true });
  const files = (await Promise.all(compiledPackages.map(sourcesOf))).flat();
  const program = ts.createProgram(
    files.map((file) => join(repoRoot, file)),
    compilerOptions(staging),
  );
  const { diagnostics, emitSkipped } = program.emit();
  if (emitSkipped || diagnostics.length) {
    throw new Error(
      `TypeScript could not emit:\n${ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => repoRoot, getNewLine: () => '\n' })}`,
    );
  }
  for (const dir of compiledPackages) {
    const dist = join(repoRoot, dir, 'dist');
    await rm(dist, { recursive: true, force: true });
    await mkdir(dirname(dist), { recursive: true });
    await cp(join(staging, dir), dist, { recursive: true });
  }
  await rm(staging, { recursive: true, force: true });
  return { packages: compiledPackages.length, files: files.length, seconds: (performance.now() - started) / 1000 };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await build();
  process.stdout.write(`Built ${result.files} files of ${result.packages} packages into their dist/ in ${result.seconds.toFixed(1)} s\n`);
}
