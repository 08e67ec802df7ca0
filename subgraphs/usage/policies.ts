import type { Subscription } from '@mindweave/events';
import { policiesRoute } from '@mindweave/governance/internal-routes';
import {
  compilePolicies,
  decide,
  type CompiledPolicies,
  type Decision,
  type PolicyRecord,
  type UsageAction,
} from '@mindweave/policy-engine';
import { callInternalRoute, type Logger } from '@mindweave/service-kit';
import { bus } from './bus.ts';
import { env } from './env.ts';

// Policies change rarely and are read on every event: compiled per organization and kept until a
// `policy.changed` event (or, as a backstop, a minute) says otherwise.
const maxAgeMs = 60_000;
const cache = new Map<string, { at: number; compiled: Promise<CompiledPolicies> }>();

async function fetchPolicies(organizationId: string): Promise<PolicyRecord[]> {
  const options = {
    baseUrl: env.GOVERNANCE_INTERNAL_URL,
    signingSecret: env.INTERNAL_SIGNING_SECRET,
    service: 'usage',
    requestId: `policies-${organizationId}`,
    timeoutMs: 2_000,
  };
  return (await callInternalRoute(policiesRoute, options, { organizationId })).policies;
}

/**
 * The organization's compiled policies. When governance cannot be reached, the last known
 * policies stay in force; with none known, events are let through (and it is logged): metering
 * must not stop because the policy service is down.
 */
export async function policiesOf(organizationId: string, log: Logger): Promise<CompiledPolicies> {
  const hit = cache.get(organizationId);
  if (hit && Date.now() - hit.at < maxAgeMs) return hit.compiled;
  const compiled = fetchPolicies(organizationId).then(compilePolicies);
  const entry = { at: Date.now(), compiled };
  cache.set(organizationId, entry);
  return compiled.catch(async (error: unknown) => {
    log.warn({ err: error, organizationId }, 'policies unavailable; using the last known ones');
    const stale = hit ? await hit.compiled.catch(() => compilePolicies([])) : compilePolicies([]);
    cache.set(organizationId, { at: Date.now() - maxAgeMs + 5_000, compiled: Promise.resolve(stale) });
    return stale;
  });
}

/**
 * Drops cached policies when governance says they changed, on every usage instance. Until the
 * log can be tailed (Redis down at start), cached policies expire after a minute, and tailing is
 * tried again every 5 s.
 */
export async function followPolicyChanges(log: Logger) {
  const retryMs = 5_000;
  let subscription: Subscription | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const follow = async () => {
    try {
      subscription = await bus.tail({
        domains: ['policy'],
        handler: async (events) => {
          for (const event of events) if (event.type === 'policy.changed') cache.delete(event.data.organizationId);
        },
      });
      if (stopped) await subscription.stop();
    } catch (error) {
      log.warn({ err: error, retryMs }, 'not following policy changes yet; cached policies expire after a minute');
      if (!stopped) retry = setTimeout(follow, retryMs);
    }
  };
  await follow();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await subscription?.stop();
    },
  };
}

/**
 * Decides each event in order, the month's totals growing with every event let through. An event
 * `alreadyCounted` (appended again for a retry: the totals most likely hold it already) is decided
 * against the totals without itself and adds nothing, so that a retry is not refused for its own
 * first attempt.
 */
export function decideBatch(
  compiled: CompiledPolicies,
  actions: UsageAction[],
  start: { tokens: number; costUsd: number },
  alreadyCounted: (index: number) => boolean = () => false,
): Decision[] {
  const totals = { ...start };
  return actions.map((action, index) => {
    const tokens = action.inputTokens + action.outputTokens;
    if (alreadyCounted(index))
      return decide(compiled, action, {
        tokens: Math.max(0, totals.tokens - tokens),
        costUsd: Math.max(0, totals.costUsd - action.costUsd),
      });
    const decision = decide(compiled, action, totals);
    if (decision.allowed) {
      totals.tokens += tokens;
      totals.costUsd += action.costUsd;
    }
    return decision;
  });
}
