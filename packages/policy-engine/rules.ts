import { z } from 'zod';

export const policyTypes = ['MODEL_ALLOWLIST', 'MODEL_DENYLIST', 'SPEND_LIMIT', 'TOKEN_LIMIT'] as const;
export type PolicyType = (typeof policyTypes)[number];

/**
 * MODEL_ALLOWLIST / MODEL_DENYLIST. A name matches exactly (case-sensitive); a name ending in `*`
 * is a prefix wildcard: `gpt-4o*` matches `gpt-4o` and `gpt-4o-mini`, and `*` alone every model.
 */
export type ModelListRules = {
  models: string[];
};
/** SPEND_LIMIT: the organization's spend in a calendar month (UTC) may reach this, not exceed it. */
export type SpendLimitRules = {
  maxUsdPerMonth: number;
};
/** TOKEN_LIMIT: input plus output tokens in a calendar month (UTC) may reach this, not exceed it. */
export type TokenLimitRules = {
  maxTokensPerMonth: number;
};
export type RulesOf<T extends PolicyType> = T extends 'MODEL_ALLOWLIST' | 'MODEL_DENYLIST'
  ? ModelListRules
  : T extends 'SPEND_LIMIT'
    ? SpendLimitRules
    : TokenLimitRules;
export type ParsedRules = ModelListRules | SpendLimitRules | TokenLimitRules;

/** Rules that do not fit their policy type; `field` is the path of the offending value, e.g. `rules.models.0`. */
export class PolicyRulesError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'PolicyRulesError';
  }
}

export const maxModelsPerPolicy = 500;
const maxModelNameLength = 200;

const required = (expected: string) => (issue: { input: unknown }) => (issue.input === undefined ? 'is required' : `must be ${expected}`);

const modelName = z
  .string({ error: required('a model name (a string)') })
  .min(1, 'must not be empty')
  .max(maxModelNameLength, `must be at most ${maxModelNameLength} characters`)
  .refine((name) => name.trim() === name, 'must not start or end with whitespace')
  .refine((name) => !name.slice(0, -1).includes('*'), "may hold '*' only as its last character (a prefix wildcard)");

const objectError = (type: PolicyType, keys: string) => (issue: { code?: string; input: unknown }) =>
  issue.code === 'unrecognized_keys' ? `is not a rule of ${type} (expected ${keys})` : `must be an object like { ${keys} }`;

const modelList = (type: PolicyType) =>
  z.strictObject(
    {
      models: z
        .array(modelName, { error: required('a list of model names') })
        .min(1, 'must name at least one model')
        .max(maxModelsPerPolicy, `must name at most ${maxModelsPerPolicy} models`)
        .transform((models) => [...new Set(models)]),
    },
    { error: objectError(type, '"models": [...]') },
  );

// Built once: zod compiles a schema on first use.
const schemas: { [T in PolicyType]: z.ZodType<RulesOf<T>> } = {
  MODEL_ALLOWLIST: modelList('MODEL_ALLOWLIST'),
  MODEL_DENYLIST: modelList('MODEL_DENYLIST'),
  SPEND_LIMIT: z.strictObject(
    { maxUsdPerMonth: z.number({ error: required('a number of US dollars') }).positive('must be greater than 0') },
    { error: objectError('SPEND_LIMIT', '"maxUsdPerMonth": number') },
  ),
  TOKEN_LIMIT: z.strictObject(
    {
      maxTokensPerMonth: z
        .number({ error: required('a number of tokens') })
        .int('must be a whole number')
        .positive('must be greater than 0'),
    },
    { error: objectError('TOKEN_LIMIT', '"maxTokensPerMonth": integer') },
  ),
};

type Issue = z.core.$ZodIssue;

function fieldOf(issue: Issue): string {
  const path = issue.path.map(String);
  // An unknown key is reported on the object; name the key itself.
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  return ['rules', ...path].join('.');
}

/**
 * Validates `rules` for a policy of `type` and returns them in canonical form (model names
 * de-duplicated, order kept). Throws a PolicyRulesError naming the first offending field.
 */
export function parseRules<T extends PolicyType>(type: T, rules: unknown): RulesOf<T> {
  const schema = schemas[type] as z.ZodType<RulesOf<T>> | undefined;
  if (!schema) throw new PolicyRulesError('type', `must be one of ${policyTypes.join(', ')}`);
  const result = schema.safeParse(rules);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw issue ? new PolicyRulesError(fieldOf(issue), issue.message) : new PolicyRulesError('rules', 'are not valid');
}
