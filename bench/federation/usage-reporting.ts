// `pnpm bench:usage-reporting`: what usage reporting adds to one request, in-process (a throughput
// comparison, `pnpm bench:federation --targets mindweave,mindweave-variant --variant-env
// USAGE_REPORTING=false`, cannot resolve a few microseconds on a shared machine). Counts the
// federation benchmark's TestQuery a million times per round as the operation log does (the
// client's headers read, the operation counted), and times the one-off work per new document
// (its schema coordinates), against the router's edge analysis of the same document.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@mindweave/service-kit';
import type { EdgeInfo } from '../../router/context.ts';
import { createMetrics } from '../../router/metrics.ts';
import { analyzeOperation, type AnalyzedOperation } from '../../router/operation.ts';
import { indexSupergraph } from '../../router/schema-index.ts';
import { clientOf, createUsageReporter } from '../../router/usage-reporting.ts';
import { testQuery } from './test-query.ts';

const index = indexSupergraph(readFileSync(join(import.meta.dirname, 'supergraph.graphql'), 'utf8'));
const limits = { maxDepth: 50, maxAliases: 30, maxDirectives: 50, maxRootFields: 20, maxTokens: 50_000, defaultListSize: 10 };
const analyze = () => analyzeOperation(index, testQuery, undefined, limits) as AnalyzedOperation;
const info: EdgeInfo = {
  operation: analyze(),
  operationHash: 'f'.repeat(64),
  estimatedCost: 0,
  includeCost: false,
  denied: [],
  empty: false,
};
let published = 0;
const reporter = createUsageReporter({
  bus: { publish: async () => void published++ },
  schema: () => index.schema,
  router: 'bench',
  intervalMs: 3_600_000,
  maxOperations: 10_000,
  metrics: createMetrics(),
  log: createLogger({ name: 'bench-usage-reporting', level: 'silent' }),
});
const headers = new Map([
  ['content-type', 'application/json'],
  ['authorization', 'Bearer x'],
  ['apollographql-client-name', 'web'],
  ['apollographql-client-version', '1.0.0'],
]);

const n = 1_000_000;
for (let round = 1; round <= 3; round++) {
  const started = performance.now();
  for (let i = 0; i < n; i++)
    reporter.record(
      info,
      clientOf((name) => headers.get(name)),
      12.5,
      false,
    );
  process.stdout.write(`round ${round}: ${(((performance.now() - started) * 1000) / n).toFixed(3)} µs to count one operation\n`);
}

// Once per new document: the edge's analysis, and the coordinates reporting adds to it.
const documents = 200;
let analysisMs = 0;
let coordinatesMs = 0;
for (let i = 0; i < documents; i++) {
  let started = performance.now();
  const operation = analyze();
  analysisMs += performance.now() - started;
  started = performance.now();
  reporter.record({ ...info, operation, operationHash: String(i) }, { name: 'web', version: '' }, 1, false);
  coordinatesMs += performance.now() - started;
}
await reporter.flush();
process.stdout.write(
  `a new document (TestQuery, ${documents} times): the edge's analysis ${(analysisMs / documents).toFixed(3)} ms, its coordinates for reporting ${(coordinatesMs / documents).toFixed(3)} ms (${(coordinatesMs / analysisMs).toFixed(2)}x the analysis); ${published} report published\n`,
);
