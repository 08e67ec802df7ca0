import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { visibleOrganizations } from '../access.ts';

// Users belong to the identity subgraph; this one adds what it knows of them.
export const User = builder.externalRef('User', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ id: t.id() }),
  fields: (t) => ({
    memberships: t.prismaField({
      type: ['Membership'],
      listSize: { assumedSize: 50 },
      description: "The user's memberships in organizations the caller can see.",
      resolve: (query, user, _args, ctx) =>
        prisma.membership.findMany({
          ...query,
          where: { userId: user.id, organization: visibleOrganizations(ctx) },
          orderBy: { createdAt: 'asc' },
        }),
    }),
  }),
});
