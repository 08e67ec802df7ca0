// `pnpm bench:policy`: policy decisions per second in-process, with an organization's policies
// compiled once (as the usage path's cache keeps them) next to, in the same run, the same
// decisions with the policies re-compiled for every one: the ratio is what the cache buys.
// The bar: at least 100,000 decisions/s compiled. Flags (or BENCH_* variables): --decisions, --seconds.
import { parseArgs } from 'node:util';
import { compilePolicies, decide, type PolicyRecord, type UsageAction } from '../../packages/policy-engine/index.ts';

const barPerSecond = 100_000;

const { values } = parseArgs({
  options: {
    decisions: { type: 'string', default: process.env['BENCH_DECISIONS'] ?? '1000000' },
    seconds: { type: 'string', default: process.env['BENCH_SECONDS'] ?? '2' },
  },
});
const decisions = Number(values.decisions);
const seconds = Number(values.seconds);
if (!Number.isInteger(decisions) || decisions < 1) throw new Error(`--decisions must be a positive integer, not "${values.decisions}"`);
if (!(seconds > 0)) throw new Error(`--seconds must be positive, not "${values.seconds}"`);

// A realistic organization: a long allowlist with wildcards, a denylist, both limits, an audit-only policy, a disabled one.
const allowed = Array.from({ length: 200 }, (_, i) => `model-${i}`);
const policies: PolicyRecord[] = [
  {
    id: 'p1',
    name: 'approved models',
    type: 'MODEL_ALLOWLIST',
    rules: { models: [...allowed, 'gpt-4o*', 'claude-*', 'llama-3*'] },
    enabled: true,
    enforcing: true,
  },
  {
    id: 'p2',
    name: 'no previews',
    type: 'MODEL_DENYLIST',
    rules: { models: ['gpt-4o-preview', 'claude-experimental', 'o1*'] },
    enabled: true,
    enforcing: true,
  },
  { id: 'p3', name: 'monthly budget', type: 'SPEND_LIMIT', rules: { maxUsdPerMonth: 5_000 }, enabled: true, enforcing: true },
  { id: 'p4', name: 'token cap', type: 'TOKEN_LIMIT', rules: { maxTokensPerMonth: 500_000_000 }, enabled: true, enforcing: true },
  { id: 'p5', name: 'watch opus', type: 'MODEL_DENYLIST', rules: { models: ['claude-opus*'] }, enabled: true, enforcing: false },
  { id: 'p6', name: 'old rule', type: 'MODEL_DENYLIST', rules: { models: ['gpt-3.5-turbo'] }, enabled: false, enforcing: true },
];

const models = [
  'gpt-4o-mini',
  'claude-sonnet-4',
  'model-150',
  'gpt-4o-preview',
  'claude-opus-4',
  'mistral-large',
  'llama-3.1-70b',
  'o1-mini',
];
const actions: UsageAction[] = Array.from({ length: 1_024 }, (_, i) => ({
  model: models[i % models.length]!,
  inputTokens: 200 + (i % 50) * 10,
  outputTokens: 100 + (i % 30) * 5,
  costUsd: 0.0004 * (1 + (i % 7)),
}));
const monthToDate = { tokens: 120_000_000, costUsd: 3_200 };

/** Runs `decideOne` for at most `limit` decisions or `seconds`, whichever comes first; decisions/s. */
function measure(limit: number, decideOne: (action: UsageAction) => boolean) {
  let allowedCount = 0;
  let done = 0;
  const deadline = performance.now() + seconds * 1_000;
  const started = performance.now();
  while (done < limit) {
    for (let i = 0; i < 1_024 && done < limit; i++, done++) if (decideOne(actions[i]!)) allowedCount++;
    if (performance.now() > deadline) break;
  }
  const elapsed = (performance.now() - started) / 1_000;
  return { perSecond: done / elapsed, done, allowedCount };
}

const compiled = compilePolicies(policies);
const cachedDecide = (action: UsageAction) => decide(compiled, action, monthToDate).allowed;
const uncachedDecide = (action: UsageAction) => decide(compilePolicies(policies), action, monthToDate).allowed;

// Warm both paths up so that the JIT has compiled them before measuring.
measure(50_000, cachedDecide);
measure(2_000, uncachedDecide);

for (const action of actions) {
  if (JSON.stringify(decide(compiled, action, monthToDate)) !== JSON.stringify(decide(compilePolicies(policies), action, monthToDate)))
    throw new Error('the two paths decided differently');
}

const cached = measure(decisions, cachedDecide);
const uncached = measure(decisions, uncachedDecide);

const format = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `policy decisions, ${policies.length} policies (${compiled.policies.length} enabled, one with ${allowed.length + 3} models), node ${process.version}`,
);
console.log(`  compiled once:          ${format(cached.perSecond).padStart(12)} decisions/s  (${format(cached.done)} decisions)`);
console.log(`  re-compiled per call:   ${format(uncached.perSecond).padStart(12)} decisions/s  (${format(uncached.done)} decisions)`);
console.log(`  the cache buys:         ${(cached.perSecond / uncached.perSecond).toFixed(1)}x`);
const pass = cached.perSecond >= barPerSecond;
console.log(`  bar (>= ${format(barPerSecond)}/s compiled): ${pass ? 'PASS' : 'FAIL'}`);
process.exitCode = pass ? 0 : 1;
