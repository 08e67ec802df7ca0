import { z } from 'zod';
import { conflict, forbidden } from '@mindweave/errors';
import { isUniqueViolation } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { requireManager } from '../access.ts';
import { MemberRole as MemberRoleValues } from '../generated/prisma/enums.ts';

export const MemberRole = builder.enumType(MemberRoleValues, { name: 'MemberRole' });

export const Membership = builder.prismaObject('Membership', {
  fields: (t) => ({
    organization: t.relation('organization'),
    role: t.expose('role', { type: MemberRole }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const AddMemberInput = builder.inputType('AddMemberInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    userId: t.id({ required: true, validate: z.string().uuid('must be a user id') }),
    role: t.field({ type: MemberRole, required: true }),
  }),
});

builder.mutationField('addMember', (t) =>
  t.prismaField({
    type: 'Membership',
    description: 'Adds a user to an organization. OWNER and ADMIN members can add members; only an OWNER can add another OWNER.',
    authenticated: true,
    args: { input: t.arg({ type: AddMemberInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const organizationId = String(input.organizationId);
      const caller = await requireManager(ctx, organizationId);
      if (input.role === 'OWNER' && caller.role !== 'OWNER') throw forbidden('Only an owner can add an owner');
      return prisma.membership
        .create({ ...query, data: { organizationId, userId: String(input.userId), role: input.role } })
        .catch((error: unknown) => {
          if (isUniqueViolation(error)) throw conflict('The user is already a member', 'input.userId');
          throw error;
        });
    },
  }),
);
