import { z } from 'zod';
import { conflict, forbidden, notFound } from '@mindweave/errors';
import { isUniqueViolation, isUuid } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { assertRole, roleRank, withOrganizationLock } from '../access.ts';
import { recordChange } from '../audit.ts';
import type { MemberRole as MemberRoleValue, Membership as MembershipRow, Prisma } from '../generated/prisma/client.ts';
import { MemberRole as MemberRoleValues } from '../generated/prisma/enums.ts';
import { User } from './user.ts';

export const MemberRole = builder.enumType(MemberRoleValues, { name: 'MemberRole' });

export const Membership = builder.prismaObject('Membership', {
  fields: (t) => ({
    organization: t.relation('organization'),
    role: t.expose('role', { type: MemberRole }),
    user: t.field({ type: User, description: 'The member.', resolve: (membership) => ({ id: membership.userId }) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

/** The rules a careful admin expects, checked under the organization's lock (lockOrganization). */
async function checkRoleChange(tx: Prisma.TransactionClient, caller: MembershipRow, target: MembershipRow, role: MemberRoleValue | null) {
  if (caller.role === 'ADMIN' && target.role === 'OWNER' && caller.userId !== target.userId)
    throw forbidden('An admin cannot change or remove an owner');
  if (role && roleRank[role] > roleRank[caller.role]) throw forbidden('Nobody can give a role above their own');
  if (target.role === 'OWNER' && role !== 'OWNER') {
    const owners = await tx.membership.count({ where: { organizationId: target.organizationId, role: 'OWNER' } });
    if (owners <= 1) throw conflict('An organization must keep at least one owner: make someone else an owner first');
  }
}

async function targetMembership(tx: Prisma.TransactionClient, organizationId: string, userId: string) {
  const target = isUuid(userId) ? await tx.membership.findUnique({ where: { organizationId_userId: { organizationId, userId } } }) : null;
  if (!target) throw notFound('Member');
  return target;
}

/** The membership change every router must hear of: the member's access changed now. */
const membershipChanged = (organizationId: string, userId: string, role: MemberRoleValue | null, previousRole: MemberRoleValue | null) =>
  ({ type: 'organization.membership_changed', data: { organizationId, userId, role, previousRole } }) as const;

const AddMemberInput = builder.inputType('AddMemberInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    userId: t.id({ required: true, validate: z.string().uuid('must be a user id') }),
    role: t.field({ type: MemberRole, required: true }),
  }),
});

const UpdateMemberRoleInput = builder.inputType('UpdateMemberRoleInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    userId: t.id({ required: true }),
    role: t.field({ type: MemberRole, required: true }),
  }),
});

builder.mutationFields((t) => ({
  addMember: t.prismaField({
    type: 'Membership',
    description: 'Adds a user to an organization. OWNER and ADMIN members can add members; only an OWNER can add another OWNER.',
    authenticated: true,
    args: { input: t.arg({ type: AddMemberInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const organizationId = String(input.organizationId);
      const userId = String(input.userId);
      const created = await withOrganizationLock(ctx, organizationId, async (tx, caller) => {
        assertRole(caller);
        if (input.role === 'OWNER' && caller.role !== 'OWNER') throw forbidden('Only an owner can add an owner');
        const membership = await tx.membership.create({ data: { organizationId, userId, role: input.role } }).catch((error: unknown) => {
          if (isUniqueViolation(error)) throw conflict('The user is already a member', 'input.userId');
          throw error;
        });
        await recordChange(tx, ctx, {
          organizationId,
          action: 'MEMBER_ADDED',
          targetUserId: userId,
          details: { role: input.role },
          events: [membershipChanged(organizationId, userId, input.role, null)],
        });
        return membership;
      });
      return prisma.membership.findUniqueOrThrow({ ...query, where: { id: created.id } });
    },
  }),
  updateMemberRole: t.prismaField({
    type: 'Membership',
    description:
      "Changes a member's role. OWNER and ADMIN members can; an ADMIN cannot change an OWNER, nobody gives a role above their own, and an organization always keeps at least one OWNER. Takes effect at once, open subscriptions included.",
    authenticated: true,
    args: { input: t.arg({ type: UpdateMemberRoleInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const organizationId = String(input.organizationId);
      const updated = await withOrganizationLock(ctx, organizationId, async (tx, caller) => {
        assertRole(caller);
        const target = await targetMembership(tx, organizationId, String(input.userId));
        if (target.role === input.role) return target;
        await checkRoleChange(tx, caller, target, input.role);
        const membership = await tx.membership.update({ where: { id: target.id }, data: { role: input.role } });
        await recordChange(tx, ctx, {
          organizationId,
          action: 'MEMBER_ROLE_CHANGED',
          targetUserId: target.userId,
          details: { from: target.role, to: input.role },
          events: [membershipChanged(organizationId, target.userId, input.role, target.role)],
        });
        return membership;
      });
      return prisma.membership.findUniqueOrThrow({ ...query, where: { id: updated.id } });
    },
  }),
  removeMember: t.boolean({
    description:
      'Removes a member from the organization; any member may remove themself (leave). OWNER and ADMIN members remove others; an ADMIN cannot remove an OWNER, and the last OWNER cannot go. Their open connections lose what they no longer may see within seconds.',
    authenticated: true,
    args: { organizationId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => {
      const organizationId = String(args.organizationId);
      return withOrganizationLock(ctx, organizationId, async (tx, caller) => {
        const leaving = caller.userId === String(args.userId);
        if (!leaving) assertRole(caller);
        const target = leaving ? caller : await targetMembership(tx, organizationId, String(args.userId));
        await checkRoleChange(tx, caller, target, null);
        await tx.membership.delete({ where: { id: target.id } });
        await recordChange(tx, ctx, {
          organizationId,
          action: leaving ? 'MEMBER_LEFT' : 'MEMBER_REMOVED',
          targetUserId: target.userId,
          details: { role: target.role },
          events: [membershipChanged(organizationId, target.userId, null, target.role)],
        });
        return true;
      });
    },
  }),
}));
