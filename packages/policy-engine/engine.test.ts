import { describe, expect, it } from 'vitest';
import {
  compilePolicies,
  decide,
  parseRules,
  PolicyRulesError,
  type MonthToDate,
  type PolicyRecord,
  type PolicyType,
  type UsageAction,
} from './index.ts';

let count = 0;
const policy = (type: PolicyType, rules: unknown, overrides: Partial<PolicyRecord> = {}): PolicyRecord => ({
  id: `p${++count}`,
  name: `${type.toLowerCase()} ${count}`,
  type,
  rules,
  enabled: true,
  enforcing: true,
  ...overrides,
});
const action = (overrides: Partial<UsageAction> = {}): UsageAction => ({
  model: 'gpt-4o-mini',
  inputTokens: 100,
  outputTokens: 50,
  costUsd: 0.01,
  ...overrides,
});
const empty: MonthToDate = { tokens: 0, costUsd: 0 };

type Case = {
  name: string;
  policies: PolicyRecord[];
  action?: Partial<UsageAction>;
  monthToDate?: MonthToDate;
  allowed: boolean;
  /** [policy name, enforcing] of each violation, in policy order. */
  violations?: [string, boolean][];
  reason?: RegExp;
};

const deny = policy('MODEL_DENYLIST', { models: ['gpt-4', 'claude-opus'] }, { name: 'deny' });
const allow = policy('MODEL_ALLOWLIST', { models: ['gpt-4o-mini', 'claude-haiku'] }, { name: 'allow' });
const wildcardDeny = policy('MODEL_DENYLIST', { models: ['gpt-4o*'] }, { name: 'no 4o' });
const wildcardAllow = policy('MODEL_ALLOWLIST', { models: ['claude-*', 'llama-3'] }, { name: 'claude only' });
const everything = policy('MODEL_DENYLIST', { models: ['*'] }, { name: 'kill switch' });
const spend = policy('SPEND_LIMIT', { maxUsdPerMonth: 10 }, { name: 'spend' });
const spendCents = policy('SPEND_LIMIT', { maxUsdPerMonth: 0.3 }, { name: 'spend cents' });
const tokens = policy('TOKEN_LIMIT', { maxTokensPerMonth: 1_000 }, { name: 'tokens' });
const auditDeny = policy('MODEL_DENYLIST', { models: ['gpt-4o-mini'] }, { name: 'audit deny', enforcing: false });
const disabledDeny = policy('MODEL_DENYLIST', { models: ['gpt-4o-mini'] }, { name: 'disabled deny', enabled: false });

const cases: Case[] = [
  { name: 'no policies: allowed', policies: [], allowed: true },
  {
    name: 'denylist hit',
    policies: [deny],
    action: { model: 'gpt-4' },
    allowed: false,
    violations: [['deny', true]],
    reason: /model "gpt-4" is denied/,
  },
  { name: 'denylist miss', policies: [deny], action: { model: 'gpt-4o-mini' }, allowed: true },
  { name: 'denylist is exact: a longer name is not denied', policies: [deny], action: { model: 'gpt-4-turbo' }, allowed: true },
  { name: 'denylist is case-sensitive', policies: [deny], action: { model: 'GPT-4' }, allowed: true },
  { name: 'allowlist hit', policies: [allow], action: { model: 'claude-haiku' }, allowed: true },
  {
    name: 'allowlist miss',
    policies: [allow],
    action: { model: 'gpt-4' },
    allowed: false,
    violations: [['allow', true]],
    reason: /model "gpt-4" is not allowed/,
  },
  {
    name: 'wildcard denies the prefix itself',
    policies: [wildcardDeny],
    action: { model: 'gpt-4o' },
    allowed: false,
    violations: [['no 4o', true]],
  },
  {
    name: 'wildcard denies longer names',
    policies: [wildcardDeny],
    action: { model: 'gpt-4o-mini' },
    allowed: false,
    violations: [['no 4o', true]],
  },
  { name: 'wildcard misses other names', policies: [wildcardDeny], action: { model: 'gpt-4' }, allowed: true },
  { name: 'wildcard in an allowlist', policies: [wildcardAllow], action: { model: 'claude-sonnet-4' }, allowed: true },
  { name: 'exact name beside a wildcard in an allowlist', policies: [wildcardAllow], action: { model: 'llama-3' }, allowed: true },
  {
    name: 'allowlist with wildcard misses',
    policies: [wildcardAllow],
    action: { model: 'llama-3.1' },
    allowed: false,
    violations: [['claude only', true]],
  },
  {
    name: "'*' alone matches every model",
    policies: [everything],
    action: { model: 'anything' },
    allowed: false,
    violations: [['kill switch', true]],
  },
  { name: 'spend below the limit', policies: [spend], action: { costUsd: 1 }, monthToDate: { tokens: 0, costUsd: 8.5 }, allowed: true },
  {
    name: 'spend reaching the limit exactly is allowed',
    policies: [spend],
    action: { costUsd: 1.5 },
    monthToDate: { tokens: 0, costUsd: 8.5 },
    allowed: true,
  },
  {
    name: 'spend exactly at the limit despite float sums (0.1 + 0.2 = 0.3)',
    policies: [spendCents],
    action: { costUsd: 0.2 },
    monthToDate: { tokens: 0, costUsd: 0.1 },
    allowed: true,
  },
  {
    name: 'spend crossing the limit',
    policies: [spend],
    action: { costUsd: 1.500001 },
    monthToDate: { tokens: 0, costUsd: 8.5 },
    allowed: false,
    violations: [['spend', true]],
    reason: /spend this month would reach \$10\.000001, above the limit of \$10/,
  },
  {
    name: 'spend already over: even a free action is refused',
    policies: [spend],
    action: { costUsd: 0 },
    monthToDate: { tokens: 0, costUsd: 10.5 },
    allowed: false,
    violations: [['spend', true]],
  },
  {
    name: 'tokens reaching the limit exactly (input + output)',
    policies: [tokens],
    action: { inputTokens: 600, outputTokens: 300 },
    monthToDate: { tokens: 100, costUsd: 0 },
    allowed: true,
  },
  {
    name: 'tokens crossing the limit by one',
    policies: [tokens],
    action: { inputTokens: 600, outputTokens: 301 },
    monthToDate: { tokens: 100, costUsd: 0 },
    allowed: false,
    violations: [['tokens', true]],
    reason: /tokens this month would reach 1001, above the limit of 1000/,
  },
  { name: 'audit-only violation is listed but allowed', policies: [auditDeny], allowed: true, violations: [['audit deny', false]] },
  {
    name: 'enforcing beside audit-only: refused, both listed',
    policies: [auditDeny, wildcardDeny],
    allowed: false,
    violations: [
      ['audit deny', false],
      ['no 4o', true],
    ],
  },
  { name: 'disabled policy is ignored', policies: [disabledDeny], allowed: true },
  {
    name: 'several violations at once, in policy order',
    policies: [deny, spend, allow, tokens, auditDeny],
    action: { model: 'gpt-4', inputTokens: 2_000, costUsd: 20 },
    allowed: false,
    violations: [
      ['deny', true],
      ['spend', true],
      ['allow', true],
      ['tokens', true],
    ],
  },
];

describe('decide', () => {
  it.each(cases)('$name', (c) => {
    const decision = decide(compilePolicies(c.policies), action(c.action), c.monthToDate ?? empty);
    expect(decision.allowed).toBe(c.allowed);
    expect(decision.violations.map((v) => [v.policyName, v.enforcing])).toEqual(c.violations ?? []);
    if (c.reason) expect(decision.violations[0]?.reason).toMatch(c.reason);
  });

  it('names the policy, its id and type in each violation', () => {
    const { violations } = decide(compilePolicies([deny]), action({ model: 'claude-opus' }), empty);
    expect(violations).toEqual([
      { policyId: deny.id, policyName: 'deny', type: 'MODEL_DENYLIST', enforcing: true, reason: 'model "claude-opus" is denied' },
    ]);
  });

  it('decides the same with compiled policies reused', () => {
    const compiled = compilePolicies([deny, spend]);
    expect(decide(compiled, action({ model: 'gpt-4' }), empty).allowed).toBe(false);
    expect(decide(compiled, action(), empty)).toEqual({ allowed: true, violations: [] });
  });
});

describe('compilePolicies', () => {
  it('drops disabled policies and skips invalid stored rules, reporting them', () => {
    const broken = policy('SPEND_LIMIT', { maxUsdPerMonth: -1 }, { name: 'broken' });
    const brokenDisabled = policy('TOKEN_LIMIT', 'nonsense', { enabled: false });
    const compiled = compilePolicies([deny, broken, disabledDeny, brokenDisabled, tokens]);
    expect(compiled.policies.map((p) => p.policyName)).toEqual(['deny', 'tokens']);
    expect(compiled.invalid).toEqual([
      { policyId: broken.id, policyName: 'broken', field: 'rules.maxUsdPerMonth', message: 'must be greater than 0' },
    ]);
    // The invalid limit is not enforced.
    expect(decide(compiled, action({ costUsd: 100 }), empty).allowed).toBe(true);
  });

  it('precomputes model lists into exact names and wildcard prefixes', () => {
    const [compiled] = compilePolicies([policy('MODEL_DENYLIST', { models: ['a', 'b*', 'a'] })]).policies;
    expect(compiled).toMatchObject({ kind: 'models', allow: false, exact: new Set(['a']), prefixes: ['b'] });
  });
});

describe('parseRules', () => {
  it('returns canonical rules', () => {
    expect(parseRules('MODEL_ALLOWLIST', { models: ['a', 'b', 'a', 'gpt-4o*'] })).toEqual({ models: ['a', 'b', 'gpt-4o*'] });
    expect(parseRules('SPEND_LIMIT', { maxUsdPerMonth: 12.5 })).toEqual({ maxUsdPerMonth: 12.5 });
    expect(parseRules('TOKEN_LIMIT', { maxTokensPerMonth: 1_000_000 })).toEqual({ maxTokensPerMonth: 1_000_000 });
  });

  const invalid: [PolicyType, unknown, string, RegExp][] = [
    ['MODEL_DENYLIST', null, 'rules', /must be an object like \{ "models": \[\.\.\.\] \}/],
    ['MODEL_DENYLIST', ['gpt-4'], 'rules', /must be an object/],
    ['MODEL_DENYLIST', {}, 'rules.models', /is required/],
    ['MODEL_DENYLIST', { models: 'gpt-4' }, 'rules.models', /must be a list of model names/],
    ['MODEL_DENYLIST', { models: [] }, 'rules.models', /at least one model/],
    ['MODEL_ALLOWLIST', { models: Array.from({ length: 501 }, (_, i) => `m${i}`) }, 'rules.models', /at most 500 models/],
    ['MODEL_DENYLIST', { models: [''] }, 'rules.models.0', /must not be empty/],
    ['MODEL_DENYLIST', { models: ['ok', '   '] }, 'rules.models.1', /whitespace/],
    ['MODEL_DENYLIST', { models: ['ok', 42] }, 'rules.models.1', /must be a model name/],
    ['MODEL_DENYLIST', { models: ['gp*t'] }, 'rules.models.0', /'\*' only as its last character/],
    ['MODEL_DENYLIST', { models: ['x'.repeat(201)] }, 'rules.models.0', /at most 200 characters/],
    ['MODEL_DENYLIST', { models: ['gpt-4'], model: 'x' }, 'rules.model', /is not a rule of MODEL_DENYLIST/],
    ['SPEND_LIMIT', {}, 'rules.maxUsdPerMonth', /is required/],
    ['SPEND_LIMIT', { maxUsdPerMonth: '10' }, 'rules.maxUsdPerMonth', /must be a number/],
    ['SPEND_LIMIT', { maxUsdPerMonth: 0 }, 'rules.maxUsdPerMonth', /greater than 0/],
    ['SPEND_LIMIT', { maxUsdPerMonth: -5 }, 'rules.maxUsdPerMonth', /greater than 0/],
    ['SPEND_LIMIT', { maxTokensPerMonth: 5 }, 'rules.maxUsdPerMonth', /is required/],
    ['TOKEN_LIMIT', { maxTokensPerMonth: 10.5 }, 'rules.maxTokensPerMonth', /whole number/],
    ['TOKEN_LIMIT', { maxTokensPerMonth: 0 }, 'rules.maxTokensPerMonth', /greater than 0/],
    ['TOKEN_LIMIT', 1000, 'rules', /must be an object/],
  ];
  it.each(invalid)('%s %j: names %s', (type, rules, field, message) => {
    let thrown: unknown;
    try {
      parseRules(type, rules);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PolicyRulesError);
    expect((thrown as PolicyRulesError).field).toBe(field);
    expect((thrown as PolicyRulesError).message).toMatch(message);
  });

  it('refuses an unknown type', () => {
    expect(() => parseRules('NOPE' as PolicyType, {})).toThrow(expect.objectContaining({ field: 'type' }));
  });
});
