import { createServer } from 'node:net';

/** Whether nothing listens on the port of 127.0.0.1. */
export const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

/** A port the system says is free now. */
export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** The first of `count` consecutive free ports between `from` and `to`, for a stack whose services sit at offsets from a base. */
export async function freePortRange(count: number, from: number, to: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = from + Math.floor(Math.random() * Math.floor((to - from) / count - 1)) * count;
    const checks = await Promise.all(Array.from({ length: count }, (_, i) => portFree(base + i)));
    if (checks.every(Boolean)) return base;
  }
  throw new Error(`no ${count} free ports in a row between ${from} and ${to}`);
}
