// Records usage with a project API key and prints its organization's usage events as they happen.
//
//   MINDWEAVE_URL=http://localhost:4000/graphql MINDWEAVE_API_KEY=mw_sk_... \
//   MINDWEAVE_ORGANIZATION_ID=... pnpm --filter @mindweave/sdk exec tsx examples/live-usage.ts
//
// The key needs the usage:write and usage:read scopes (the demo key `npm start` prints has both).
// An API key cannot look its organization up, hence MINDWEAVE_ORGANIZATION_ID.
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { createMindWeaveClient, MindWeaveError, RecordUsageDocument, UsageUpdatedDocument } from '../src/index.js';

const missing = ['MINDWEAVE_URL', 'MINDWEAVE_API_KEY', 'MINDWEAVE_ORGANIZATION_ID'].filter((name) => !process.env[name]);
if (missing.length) {
  console.error(`Set ${missing.join(', ')} (\`npm start\` prints the demo tenant's).`);
  process.exit(1);
}
const organizationId = process.env['MINDWEAVE_ORGANIZATION_ID']!;
const client = createMindWeaveClient({
  url: process.env['MINDWEAVE_URL']!,
  auth: { apiKey: process.env['MINDWEAVE_API_KEY']! },
  // Node.js 20 has no global WebSocket.
  webSocketImpl: WebSocket,
});

const unsubscribe = client.subscribe(
  UsageUpdatedDocument,
  { organizationId },
  ({ usageUpdated: event }) => {
    const tokens = `${event.inputTokens} in / ${event.outputTokens} out`;
    console.log(
      `${event.occurredAt}  ${event.organization.name} / ${event.project.name}  ${event.model}  ${tokens}  $${event.costUsd.toFixed(6)}`,
    );
  },
  (error, ended) => {
    const reason = `${error instanceof MindWeaveError ? `${error.code}: ` : ''}${error.message}`;
    if (!ended) return console.error(`An event could not be resolved: ${reason}`);
    console.error(`The subscription ended: ${reason}`);
    void stop(1);
  },
);

const models = ['gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku'];
let n = 0;
async function record() {
  const input = {
    idempotencyKey: randomUUID(),
    model: models[n++ % models.length]!,
    inputTokens: 200 + Math.floor(Math.random() * 800),
    outputTokens: 50 + Math.floor(Math.random() * 400),
    latencyMs: 100 + Math.floor(Math.random() * 900),
  };
  try {
    const { recordUsage } = await client.request(RecordUsageDocument, { input });
    if (recordUsage.rejected) console.log(`refused by policy: ${recordUsage.violations.map((v) => v.reason).join('; ')}`);
  } catch (error) {
    console.error(`recordUsage failed: ${error instanceof MindWeaveError ? `${error.code}: ${error.message}` : String(error)}`);
  }
}

console.log(`Watching organization ${organizationId}; recording an event every 2 seconds. Ctrl-C stops.`);
const timer = setInterval(record, 2_000);
// The subscription is live once the connection is acknowledged: record the first event after a beat.
setTimeout(record, 500);

async function stop(code = 0) {
  clearInterval(timer);
  unsubscribe();
  await client.close();
  process.exit(code);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
