export {
  parseRules,
  PolicyRulesError,
  policyTypes,
  type ModelListRules,
  type ParsedRules,
  type PolicyType,
  type RulesOf,
  type SpendLimitRules,
  type TokenLimitRules,
} from './rules.ts';
export {
  compilePolicies,
  decide,
  type CompiledPolicies,
  type CompiledPolicy,
  type Decision,
  type InvalidPolicy,
  type MonthToDate,
  type PolicyRecord,
  type UsageAction,
  type Violation,
} from './engine.ts';
