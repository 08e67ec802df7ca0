import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SinkMessage } from '../scripts/smtp-sink.ts';
import { stack } from './client.ts';

/** Every message the test stack's SMTP sink has received so far. */
export async function sinkMessages(): Promise<SinkMessage[]> {
  const text = await readFile(join(stack.mailDir, 'messages.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SinkMessage);
}

export const messagesTo = async (address: string) => (await sinkMessages()).filter((message) => message.to.includes(address));

/** Waits for `count` messages to `address` matching `match`, and returns them. */
export async function waitForMail(
  address: string,
  match: (message: SinkMessage) => boolean = () => true,
  options: { count?: number; timeoutMs?: number } = {},
): Promise<SinkMessage[]> {
  const count = options.count ?? 1;
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const found = (await messagesTo(address)).filter(match);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`expected ${count} message(s) to ${address}, found ${found.length}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** The first link in a message's text part that starts with `prefix`. */
export function linkIn(message: SinkMessage, prefix: string): URL {
  const url = message.text.split(/\s+/).find((word) => word.startsWith(prefix));
  if (!url) throw new Error(`no ${prefix} link in "${message.subject}"`);
  return new URL(url);
}
