import { createHash } from 'node:crypto';
import { createMindWeaveClient, RecordUsageBatchDocument, type UsageInput } from '../packages/sdk/src/index.ts';

const models = ['gpt-4o-mini', 'claude-3-5-haiku', 'gpt-4o'] as const;
const hourMs = 3_600_000;
const batchSize = 1_000;

/** A number in [0, 1) from a string: the same every time, so a restart rebuilds the same events. */
const unit = (text: string) => createHash('sha256').update(text).digest().readUInt32BE(0) / 2 ** 32;

/**
 * The demo usage of one hour: a few calls per model, more during the (UTC) working day, each one's
 * idempotency key naming its hour, model and number.
 */
function eventsOfHour(hourStart: number, now: number): UsageInput[] {
  const hour = new Date(hourStart).getUTCHours();
  const activity = 0.25 + 0.75 * Math.max(0, Math.sin((Math.PI * (hour - 6)) / 12));
  const events: UsageInput[] = [];
  for (const model of models) {
    const hourKey = `${new Date(hourStart).toISOString()}:${model}`;
    const calls = Math.round(activity * (1 + 4 * unit(`calls:${hourKey}`)) * (model === 'gpt-4o' ? 0.5 : 1));
    for (let i = 0; i < calls; i++) {
      const key = `demo:${hourKey}:${i}`;
      const occurredAt = Math.min(hourStart + Math.floor(unit(`at:${key}`) * hourMs), now - 60_000);
      events.push({
        model,
        inputTokens: 150 + Math.floor(unit(`in:${key}`) * 900),
        outputTokens: 40 + Math.floor(unit(`out:${key}`) * 400),
        latencyMs: 200 + Math.floor(unit(`latency:${key}`) * 1_800),
        occurredAt: new Date(occurredAt).toISOString(),
        idempotencyKey: key,
        metadata: { source: 'demo' },
      });
    }
  }
  return events;
}

export interface DemoUsage {
  /** Events sent, with their tokens; those recorded before (the same hours) come back as duplicates. */
  events: number;
  tokens: number;
  accepted: number;
  duplicates: number;
}

/**
 * Records `days` days of usage (up to the current hour) through the router with an API key that
 * holds `usage:write`, so that the dashboard has a chart to show after `npm start`. Every event's
 * idempotency key names its hour, so starting again records only the hours that are new since.
 * Events may be at most 30 days old (README: "Usage pipeline").
 */
export async function recordDemoUsage(options: { url: string; apiKey: string; days?: number; now?: number }): Promise<DemoUsage> {
  const days = Math.min(options.days ?? 3, 29);
  const now = options.now ?? Date.now();
  const currentHour = Math.floor(now / hourMs) * hourMs;
  const events: UsageInput[] = [];
  for (let hourStart = currentHour - (days * 24 - 1) * hourMs; hourStart <= currentHour; hourStart += hourMs)
    events.push(...eventsOfHour(hourStart, now));

  const client = createMindWeaveClient({ url: options.url, auth: { apiKey: options.apiKey } });
  const result: DemoUsage = {
    events: events.length,
    tokens: events.reduce((sum, e) => sum + e.inputTokens + e.outputTokens, 0),
    accepted: 0,
    duplicates: 0,
  };
  for (let start = 0; start < events.length; start += batchSize) {
    const { recordUsageBatch } = await client.request(RecordUsageBatchDocument, { inputs: events.slice(start, start + batchSize) });
    result.accepted += recordUsageBatch.accepted;
    result.duplicates += recordUsageBatch.duplicates;
  }
  return result;
}
