import { parseRules, PolicyRulesError, type PolicyType } from './rules.ts';

/** A policy as governance stores it; `rules` are validated again when compiled. */
export interface PolicyRecord {
  id: string;
  name: string;
  type: PolicyType;
  rules: unknown;
  enabled: boolean;
  /** Enforcing policies refuse what violates them; the others (audit only) just report it. */
  enforcing: boolean;
}

/** One usage event about to be recorded. */
export interface UsageAction {
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** The organization's totals of the calendar month so far, before this action. */
export interface MonthToDate {
  tokens: number;
  costUsd: number;
}

export interface Violation {
  policyId: string;
  policyName: string;
  type: PolicyType;
  enforcing: boolean;
  reason: string;
}

/** `allowed` is false iff an enforcing policy is violated; audit-only violations are listed with allowed=true. */
export interface Decision {
  allowed: boolean;
  violations: Violation[];
}

interface PolicyMeta {
  readonly policyId: string;
  readonly policyName: string;
  readonly type: PolicyType;
  readonly enforcing: boolean;
}

export type CompiledPolicy =
  | (PolicyMeta & {
      readonly kind: 'models';
      readonly allow: boolean;
      readonly exact: ReadonlySet<string>;
      readonly prefixes: readonly string[];
    })
  | (PolicyMeta & { readonly kind: 'spend'; readonly maxUsd: number })
  | (PolicyMeta & { readonly kind: 'tokens'; readonly maxTokens: number });

/** A stored policy whose rules no longer validate: it is left out (and should be reported). */
export interface InvalidPolicy {
  policyId: string;
  policyName: string;
  field: string;
  message: string;
}

export interface CompiledPolicies {
  /** Enabled policies with valid rules, in the order given. */
  readonly policies: readonly CompiledPolicy[];
  readonly invalid: readonly InvalidPolicy[];
}

/**
 * Validates and precomputes an organization's policies once, so that `decide` does no parsing:
 * model lists become a Set of exact names plus a short list of wildcard prefixes.
 */
export function compilePolicies(records: readonly PolicyRecord[]): CompiledPolicies {
  const policies: CompiledPolicy[] = [];
  const invalid: InvalidPolicy[] = [];
  for (const record of records) {
    if (!record.enabled) continue;
    const meta: PolicyMeta = { policyId: record.id, policyName: record.name, type: record.type, enforcing: record.enforcing };
    try {
      switch (record.type) {
        case 'MODEL_ALLOWLIST':
        case 'MODEL_DENYLIST': {
          const { models } = parseRules(record.type, record.rules);
          const exact = new Set(models.filter((name) => !name.endsWith('*')));
          const prefixes = models.filter((name) => name.endsWith('*')).map((name) => name.slice(0, -1));
          policies.push({ ...meta, kind: 'models', allow: record.type === 'MODEL_ALLOWLIST', exact, prefixes });
          break;
        }
        case 'SPEND_LIMIT':
          policies.push({ ...meta, kind: 'spend', maxUsd: parseRules(record.type, record.rules).maxUsdPerMonth });
          break;
        case 'TOKEN_LIMIT':
          policies.push({ ...meta, kind: 'tokens', maxTokens: parseRules(record.type, record.rules).maxTokensPerMonth });
          break;
        default:
          throw new PolicyRulesError('type', `unknown policy type ${String(record.type)}`);
      }
    } catch (error) {
      if (!(error instanceof PolicyRulesError)) throw error;
      invalid.push({ policyId: record.id, policyName: record.name, field: error.field, message: error.message });
    }
  }
  return { policies, invalid };
}

function matches(policy: { exact: ReadonlySet<string>; prefixes: readonly string[] }, model: string): boolean {
  if (policy.exact.has(model)) return true;
  for (const prefix of policy.prefixes) if (model.startsWith(prefix)) return true;
  return false;
}

// Costs are sums of floats: 0.1 + 0.2 must not exceed a limit of 0.3. A billionth of a dollar is
// far below any price step.
const usdTolerance = 1e-9;

const usd = (value: number) => `$${Number(value.toFixed(6))}`;

/** Why `action` violates `policy`, or null when it does not. */
function violationOf(policy: CompiledPolicy, action: UsageAction, monthToDate: MonthToDate): string | null {
  switch (policy.kind) {
    case 'models': {
      const listed = matches(policy, action.model);
      if (policy.allow) return listed ? null : `model "${action.model}" is not allowed`;
      return listed ? `model "${action.model}" is denied` : null;
    }
    case 'spend': {
      const total = monthToDate.costUsd + action.costUsd;
      return total - policy.maxUsd > usdTolerance
        ? `spend this month would reach ${usd(total)}, above the limit of ${usd(policy.maxUsd)}`
        : null;
    }
    case 'tokens': {
      const total = monthToDate.tokens + action.inputTokens + action.outputTokens;
      return total > policy.maxTokens ? `tokens this month would reach ${total}, above the limit of ${policy.maxTokens}` : null;
    }
  }
}

/** Checks one action against every compiled policy; a limit is violated when the month so far plus this action exceeds it. */
export function decide(compiled: CompiledPolicies, action: UsageAction, monthToDate: MonthToDate): Decision {
  let allowed = true;
  let violations: Violation[] | undefined;
  for (const policy of compiled.policies) {
    const reason = violationOf(policy, action, monthToDate);
    if (reason === null) continue;
    (violations ??= []).push({
      policyId: policy.policyId,
      policyName: policy.policyName,
      type: policy.type,
      enforcing: policy.enforcing,
      reason,
    });
    if (policy.enforcing) allowed = false;
  }
  return { allowed, violations: violations ?? [] };
}
