import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Starts an entry under the preload with tracing on (to a collector that is never reached: nothing is exported in time). */
async function hooksUnder(entry: string): Promise<{ asyncHooks: number; promiseHooks: number }> {
  const { stdout } = await run(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', '--import', here('./register.ts'), here(entry)],
    {
      cwd: here('../..'),
      env: {
        ...process.env,
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
        OTEL_SERVICE_NAME: 'renamed',
        OTEL_BSP_SCHEDULE_DELAY: '60000',
      },
      timeout: 30_000,
    },
  );
  return JSON.parse(stdout) as { asyncHooks: number; promiseHooks: number };
}

describe('the preload with tracing on', () => {
  it('leaves the router without async hooks or promise hooks, whatever OTEL_SERVICE_NAME says', async () => {
    expect(await hooksUnder('./fixtures/router/main.mjs')).toEqual({ asyncHooks: 0, promiseHooks: 0 });
  });

  it('gives other services the AsyncLocalStorage context manager, which enables them', async () => {
    const usage = await hooksUnder('./fixtures/usage/main.mjs');
    expect(usage.asyncHooks + usage.promiseHooks).toBeGreaterThan(0);
  });
});
