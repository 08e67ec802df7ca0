import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { badUserInput, conflict, forbidden, notFound } from '@mindweave/errors';
import { isUuid, requireUserId } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { assertRole, lockOrganization, requireManager, roleRank, withOrganizationLock } from '../access.ts';
import { recordChange } from '../audit.ts';
import type { Invitation as InvitationRow } from '../generated/prisma/client.ts';
import { emailOf } from '../users.ts';
import { MemberRole } from './membership.ts';
import { Organization } from './organization.ts';
import { User } from './user.ts';

/** An invitation's link works for this long. */
const invitationTtlMs = 7 * 86_400_000;
const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

const InvitationStatus = builder.enumType('InvitationStatus', { values: ['PENDING', 'ACCEPTED', 'REVOKED', 'EXPIRED'] as const });
const statusOf = (invitation: InvitationRow) =>
  invitation.acceptedAt
    ? 'ACCEPTED'
    : invitation.revokedAt
      ? 'REVOKED'
      : invitation.expiresAt.getTime() <= Date.now()
        ? 'EXPIRED'
        : 'PENDING';

export const Invitation = builder.prismaObject('Invitation', {
  description: 'An invitation to join an organization, emailed as a link with a single-use token.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    role: t.expose('role', { type: MemberRole }),
    status: t.field({ type: InvitationStatus, resolve: statusOf }),
    invitedBy: t.field({ type: User, resolve: (invitation) => ({ id: invitation.invitedById }) }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    acceptedAt: t.expose('acceptedAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.objectField(Organization, 'invitations', (t) =>
  t.prismaField({
    type: [Invitation],
    description: 'Invitations to the organization, newest first, answered and expired ones included. Owners and admins only.',
    authenticated: true,
    args: {
      first: t.arg.int({
        defaultValue: 50,
        validate: z.number().int().min(1, 'must be at least 1').max(200, 'must be at most 200').nullish(),
      }),
    },
    listSize: { slicingArguments: ['first'], requireOneSlicingArgument: false },
    resolve: async (query, organization, args, ctx) => {
      await requireManager(ctx, organization.id);
      return prisma.invitation.findMany({
        ...query,
        where: { organizationId: organization.id },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: args.first ?? 50,
      });
    },
  }),
);

const InviteMemberInput = builder.inputType('InviteMemberInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    email: t.string({
      required: true,
      validate: z
        .email('must be a valid email address')
        .max(254)
        .transform((value) => value.trim().toLowerCase()),
    }),
    role: t.field({ type: MemberRole, required: true }),
  }),
});

const invalidToken = () => badUserInput('token: invalid, expired, revoked or already used', 'token');

builder.mutationFields((t) => ({
  inviteMember: t.prismaField({
    type: 'Invitation',
    description:
      'Emails a link with a single-use token (valid 7 days) to join the organization with `role`. OWNER and ADMIN members invite; only an OWNER invites an OWNER. One pending invitation per email: revoke it to send another.',
    authenticated: true,
    args: { input: t.arg({ type: InviteMemberInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const organizationId = String(input.organizationId);
      const invitation = await withOrganizationLock(ctx, organizationId, async (tx, caller) => {
        assertRole(caller);
        if (roleRank[input.role] > roleRank[caller.role]) throw forbidden('Only an owner can invite an owner');
        const pending = await tx.invitation.findFirst({
          where: { organizationId, email: input.email, acceptedAt: null, revokedAt: null, expiresAt: { gt: new Date() } },
        });
        if (pending) throw conflict('A pending invitation for this email exists; revoke it to send another', 'input.email');
        const token = `mw_inv_${randomBytes(32).toString('base64url')}`;
        const created = await tx.invitation.create({
          data: {
            organizationId,
            email: input.email,
            role: input.role,
            tokenHash: hashToken(token),
            invitedById: caller.userId,
            expiresAt: new Date(Date.now() + invitationTtlMs),
          },
          include: { organization: { select: { name: true } } },
        });
        await recordChange(tx, ctx, {
          organizationId,
          action: 'MEMBER_INVITED',
          targetId: created.id,
          details: { email: created.email, role: created.role },
          events: [
            {
              type: 'organization.member_invited',
              data: {
                organizationId,
                organizationName: created.organization.name,
                invitationId: created.id,
                email: created.email,
                role: created.role,
                invitedBy: caller.userId,
                token,
                expiresAt: created.expiresAt.toISOString(),
              },
            },
          ],
        });
        return created;
      });
      return prisma.invitation.findUniqueOrThrow({ ...query, where: { id: invitation.id } });
    },
  }),
  acceptInvitation: t.prismaField({
    type: 'Membership',
    description:
      'Joins the organization with the role of the invitation, as the signed-in user, whose email must be the one invited (someone new registers first). The token works once, for 7 days.',
    authenticated: true,
    args: { token: t.arg.string({ required: true, validate: z.string().max(200) }) },
    resolve: async (query, _root, args, ctx) => {
      const userId = requireUserId(ctx);
      const found = await prisma.invitation.findUnique({ where: { tokenHash: hashToken(args.token) } });
      if (!found || statusOf(found) !== 'PENDING') throw invalidToken();
      // Checked before the token is spent: someone else's attempt must not use it up.
      if ((await emailOf(userId, ctx.requestId)) !== found.email)
        throw forbidden('This invitation was sent to another email address: sign in with that one');
      const membership = await prisma.$transaction(async (tx) => {
        await lockOrganization(tx, found.organizationId);
        const claimed = await tx.invitation.updateMany({
          where: { id: found.id, acceptedAt: null, revokedAt: null, expiresAt: { gt: new Date() } },
          data: { acceptedAt: new Date(), acceptedById: userId },
        });
        if (claimed.count !== 1) throw invalidToken();
        const existing = await tx.membership.findUnique({
          where: { organizationId_userId: { organizationId: found.organizationId, userId } },
        });
        // Throwing rolls the claim back: the invitation is not spent.
        if (existing) throw conflict('You are already a member of this organization');
        const created = await tx.membership.create({ data: { organizationId: found.organizationId, userId, role: found.role } });
        await recordChange(tx, ctx, {
          organizationId: found.organizationId,
          action: 'INVITATION_ACCEPTED',
          targetUserId: userId,
          targetId: found.id,
          details: { email: found.email, role: found.role, invitedBy: found.invitedById },
          events: [
            {
              type: 'organization.membership_changed',
              data: { organizationId: found.organizationId, userId, role: found.role, previousRole: null },
            },
          ],
        });
        return created;
      });
      return prisma.membership.findUniqueOrThrow({ ...query, where: { id: membership.id } });
    },
  }),
  revokeInvitation: t.prismaField({
    type: 'Invitation',
    description:
      'Cancels a pending invitation: its link stops working. OWNER and ADMIN members; only an OWNER revokes an invitation to be an OWNER.',
    authenticated: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const found = isUuid(String(id)) ? await prisma.invitation.findUnique({ where: { id: String(id) } }) : null;
      if (!found) throw notFound('Invitation');
      const revoked = await withOrganizationLock(ctx, found.organizationId, async (tx, caller) => {
        assertRole(caller);
        if (roleRank[found.role] > roleRank[caller.role]) throw forbidden('An admin cannot revoke an invitation to be an owner');
        const current = await tx.invitation.findUniqueOrThrow({ where: { id: found.id } });
        if (current.acceptedAt) throw conflict('The invitation was already accepted: remove the member instead');
        if (current.revokedAt) return current;
        const updated = await tx.invitation.update({ where: { id: found.id }, data: { revokedAt: new Date() } });
        await recordChange(tx, ctx, {
          organizationId: found.organizationId,
          action: 'INVITATION_REVOKED',
          targetId: found.id,
          details: { email: found.email, role: found.role },
        });
        return updated;
      });
      return prisma.invitation.findUniqueOrThrow({ ...query, where: { id: revoked.id } });
    },
  }),
}));
