import { join } from 'node:path';
import { freePort } from '../scripts/ports.ts';
import { services, startService } from '../scripts/stack.ts';
import { stack } from './client.ts';

/**
 * Another router process over the test stack's subgraphs, with settings of its own (low limits,
 * an unreachable Redis...). `readyPath` is /health/live when its dependencies are meant to be down.
 */
export async function startExtraRouter(name: string, env: Record<string, string>, readyPath = '/health/ready') {
  const port = await freePort();
  const router = services.find((s) => s.name === 'router')!;
  const { stop } = await startService(
    router,
    { ...process.env, ...stack.env, NODE_ENV: 'test', LOG_LEVEL: 'info', ...env, PORT: String(port) },
    { port, readyPath, logFile: join(stack.logDir, `${name}.log`) },
  );
  return { port, url: `http://127.0.0.1:${port}/graphql`, stop };
}
