import DataLoader from 'dataloader';
import { createContextCache } from '@pothos/core';
import { isUuid, type SubgraphContext } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { visibleOrganizations } from '../access.ts';
import type { Membership, Prisma } from '../generated/prisma/client.ts';

type MembershipQuery = { include?: Prisma.MembershipInclude; select?: Prisma.MembershipSelect };

/**
 * The memberships of every user entity of a request in one statement (the gateway sends a list of
 * users in one `_entities` call), with the selection the document makes below them. One loader per
 * selection, since each selection reads other relations.
 */
const membershipLoaders = createContextCache((_ctx: SubgraphContext) => new Map<string, DataLoader<string, Membership[]>>());

function membershipsOf(ctx: SubgraphContext, query: MembershipQuery) {
  const key = JSON.stringify(query);
  const loaders = membershipLoaders(ctx);
  let loader = loaders.get(key);
  if (!loader) {
    // The rows must carry userId to be handed back to their user.
    const selection = query.select ? { select: { ...query.select, userId: true } } : query;
    loader = new DataLoader<string, Membership[]>(async (userIds) => {
      const rows = await prisma.membership.findMany({
        ...selection,
        where: { userId: { in: userIds.filter(isUuid) }, organization: visibleOrganizations(ctx) },
        orderBy: { createdAt: 'asc' },
      });
      const byUser = new Map<string, Membership[]>();
      for (const row of rows) {
        const list = byUser.get(row.userId);
        if (list) list.push(row);
        else byUser.set(row.userId, [row]);
      }
      // PostgreSQL answers UUIDs in lower case; an entity's id may come in any.
      return userIds.map((id) => byUser.get(id.toLowerCase()) ?? []);
    });
    loaders.set(key, loader);
  }
  return loader;
}

// Users belong to the identity subgraph; this one adds what it knows of them.
export const User = builder.externalRef('User', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ id: t.id() }),
  fields: (t) => ({
    memberships: t.prismaField({
      type: ['Membership'],
      listSize: { assumedSize: 50 },
      description: "The user's memberships in organizations the caller can see.",
      resolve: (query, user, _args, ctx) => membershipsOf(ctx, query).load(user.id),
    }),
  }),
});
