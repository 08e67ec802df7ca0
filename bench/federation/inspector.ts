// CPU profiles of a running Node process taken over its inspector (`--inspect=<port>`), so that a
// profile covers exactly one measured round and not the process' start-up or warm-up.
import { once } from 'node:events';
import { WebSocket } from 'ws';
import type { CpuProfile } from './profile.ts';

interface InspectorReply {
  id?: number;
  result?: unknown;
  error?: { message: string };
}

export async function startCpuProfile(inspectorPort: number): Promise<{ stop: () => Promise<CpuProfile> }> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${inspectorPort}`);
  const socket = new WebSocket(url);
  await once(socket, 'open');
  let nextId = 0;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  socket.on('message', (data) => {
    const reply = JSON.parse(String(data)) as InspectorReply;
    const waiter = reply.id === undefined ? undefined : pending.get(reply.id);
    if (!waiter || reply.id === undefined) return;
    pending.delete(reply.id);
    if (reply.error) waiter.reject(new Error(reply.error.message));
    else waiter.resolve(reply.result);
  });
  const send = (method: string, params?: Record<string, unknown>) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  await send('Profiler.enable');
  await send('Profiler.start');
  return {
    async stop() {
      const { profile } = (await send('Profiler.stop')) as { profile: CpuProfile };
      socket.close();
      return profile;
    },
  };
}
