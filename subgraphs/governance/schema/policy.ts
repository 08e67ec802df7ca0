import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { badUserInput, conflict, notFound } from '@mindweave/errors';
import { parseRules, PolicyRulesError, policyTypes, type ParsedRules } from '@mindweave/policy-engine';
import { isUniqueViolation, requireUserId } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { requireManager, requirePolicy, requireReader } from '../access.ts';
import { recordPolicyChange } from '../audit.ts';
import { PolicyType as PolicyTypeValues } from '../generated/prisma/enums.ts';
import type { PolicyType as PolicyTypeValue, Prisma } from '../generated/prisma/client.ts';
import { Organization } from './organization.ts';

/** The usage path compiles every policy of an organization for each event: keep that list short. */
export const maxPoliciesPerOrganization = 50;

export const PolicyType = builder.enumType(PolicyTypeValues, { name: 'PolicyType' });

const rulesDescription =
  'MODEL_ALLOWLIST / MODEL_DENYLIST: { "models": ["name", ...] } (1 to 500 names, matched exactly; a name ending in * matches every model it starts, e.g. "gpt-4o*"). ' +
  'SPEND_LIMIT: { "maxUsdPerMonth": number > 0 }. TOKEN_LIMIT: { "maxTokensPerMonth": integer > 0 } (input plus output tokens). ' +
  'A limit may be reached but not exceeded within a calendar month (UTC).';

export const Policy = builder.prismaObject('Policy', {
  description: 'A rule of an organization that the usage path applies to every usage event before it is counted.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    type: t.expose('type', { type: PolicyType }),
    rules: t.expose('rules', { type: 'JSON', description: rulesDescription }),
    enabled: t.exposeBoolean('enabled', { description: 'Disabled policies are kept but not applied.' }),
    enforcing: t.exposeBoolean('enforcing', {
      description:
        'Enforcing policies refuse violating events with POLICY_VIOLATION; the others (audit only) let them through and record the violation in the audit log.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    organization: t.field({ type: Organization, resolve: (policy) => ({ id: policy.organizationId }) }),
  }),
});

const policyName = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

/** Path segments of a PolicyRulesError field, for a zod issue (`rules.models.0` -> ['rules', 'models', 0]). */
const pathOf = (field: string) => field.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part));

/** The canonical rules, or BAD_USER_INPUT naming the offending field under `prefix` (e.g. `input.rules.models.0`). */
function checkedRules(type: PolicyTypeValue, rules: unknown, prefix: string): ParsedRules {
  try {
    return parseRules(type, rules);
  } catch (error) {
    if (!(error instanceof PolicyRulesError)) throw error;
    const field = `${prefix}.${error.field}`;
    throw badUserInput(`${field}: ${error.message}`, field);
  }
}

const CreatePolicyInput = builder.inputType('CreatePolicyInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    name: t.string({ required: true, validate: policyName, description: 'Unique within the organization.' }),
    type: t.field({ type: PolicyType, required: true }),
    rules: t.field({ type: 'JSON', required: true, description: rulesDescription }),
    enabled: t.boolean({ defaultValue: true }),
    enforcing: t.boolean({ defaultValue: true, description: 'false: audit only.' }),
  }),
  // The rules' shape depends on the type.
  validate: z.looseObject({ type: z.enum(policyTypes), rules: z.unknown() }).superRefine((input, ctx) => {
    try {
      parseRules(input.type, input.rules);
    } catch (error) {
      if (!(error instanceof PolicyRulesError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message, path: pathOf(error.field) });
    }
  }),
});

const UpdatePolicyInput = builder.inputType('UpdatePolicyInput', {
  description: 'Fields left out (or null) stay as they are. The type of a policy cannot change.',
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string({ validate: policyName.nullish() }),
    rules: t.field({ type: 'JSON', description: "Validated against the policy's type." }),
    enabled: t.boolean(),
    enforcing: t.boolean(),
  }),
});

const nameTaken = (name: string) => (error: unknown) => {
  if (isUniqueViolation(error)) throw conflict(`A policy named "${name}" exists in this organization`, 'input.name');
  throw error;
};

/** Locks the policy row for the rest of the transaction and reads it: the audit's `before` is then exact. */
async function lockPolicy(tx: Prisma.TransactionClient, id: string) {
  await tx.$queryRaw`SELECT 1 FROM policies WHERE id = ${id}::uuid FOR UPDATE`;
  const policy = await tx.policy.findUnique({ where: { id } });
  if (!policy) throw notFound('Policy');
  return policy;
}

builder.mutationFields((t) => ({
  createPolicy: t.field({
    type: Policy,
    description: `Only OWNER and ADMIN members can create policies; an organization has at most ${maxPoliciesPerOrganization}.`,
    authenticated: true,
    args: { input: t.arg({ type: CreatePolicyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const organizationId = String(input.organizationId);
      await requireManager(ctx, organizationId);
      const userId = requireUserId(ctx);
      const rules = checkedRules(input.type, input.rules, 'input');
      const name = input.name.trim();
      return prisma
        .$transaction(async (tx) => {
          if ((await tx.policy.count({ where: { organizationId } })) >= maxPoliciesPerOrganization) {
            throw conflict(`An organization has at most ${maxPoliciesPerOrganization} policies`);
          }
          const policy = await tx.policy.create({
            data: {
              organizationId,
              name,
              type: input.type,
              rules,
              enabled: input.enabled ?? true,
              enforcing: input.enforcing ?? true,
              createdById: userId,
            },
          });
          await recordPolicyChange(tx, {
            kind: 'POLICY_CREATED',
            before: null,
            after: policy,
            actorUserId: userId,
            requestId: ctx.requestId,
          });
          return policy;
        })
        .catch(nameTaken(name));
    },
  }),
  updatePolicy: t.field({
    type: Policy,
    description: 'Only OWNER and ADMIN members can change policies. The change reaches the usage path within about a second.',
    authenticated: true,
    args: { input: t.arg({ type: UpdatePolicyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const current = await requirePolicy(ctx, String(input.id), 'manage');
      const userId = requireUserId(ctx);
      const name = input.name?.trim();
      // Checked here rather than on the input type: the rules' shape is the stored policy's type.
      const rules = input.rules === undefined || input.rules === null ? undefined : checkedRules(current.type, input.rules, 'input');
      return prisma
        .$transaction(async (tx) => {
          const before = await lockPolicy(tx, current.id);
          const data: Prisma.PolicyUpdateInput = {};
          if (name !== undefined && name !== before.name) data.name = name;
          if (rules !== undefined && !isDeepStrictEqual(rules, before.rules)) data.rules = rules;
          if (input.enabled != null && input.enabled !== before.enabled) data.enabled = input.enabled;
          if (input.enforcing != null && input.enforcing !== before.enforcing) data.enforcing = input.enforcing;
          if (Object.keys(data).length === 0) return before;
          const after = await tx.policy.update({ where: { id: before.id }, data });
          await recordPolicyChange(tx, { kind: 'POLICY_UPDATED', before, after, actorUserId: userId, requestId: ctx.requestId });
          return after;
        })
        .catch(nameTaken(name ?? ''));
    },
  }),
  deletePolicy: t.field({
    type: Policy,
    description: 'Only OWNER and ADMIN members can delete policies. Returns the deleted policy; its audit log stays.',
    authenticated: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const current = await requirePolicy(ctx, String(id), 'manage');
      const userId = requireUserId(ctx);
      return prisma.$transaction(async (tx) => {
        const before = await lockPolicy(tx, current.id);
        await tx.policy.delete({ where: { id: before.id } });
        await recordPolicyChange(tx, { kind: 'POLICY_DELETED', before, after: null, actorUserId: userId, requestId: ctx.requestId });
        return before;
      });
    },
  }),
}));

builder.queryField('policy', (t) =>
  t.field({
    type: Policy,
    nullable: true,
    description: "A policy by id; NOT_FOUND for another tenant's. Members, or the organization's API keys with policies:read.",
    requiresScopes: [['policies:read']],
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => requirePolicy(ctx, String(id), 'read'),
  }),
);

builder.objectField(Organization, 'policies', (t) =>
  t.prismaField({
    type: ['Policy'],
    description: 'The policies of the organization, enabled or not, oldest first. Members, or its API keys with policies:read.',
    requiresScopes: [['policies:read']],
    listSize: { assumedSize: maxPoliciesPerOrganization },
    resolve: async (query, organization, _args, ctx) => {
      await requireReader(ctx, organization.id);
      return prisma.policy.findMany({
        ...query,
        where: { organizationId: organization.id },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
    },
  }),
);
