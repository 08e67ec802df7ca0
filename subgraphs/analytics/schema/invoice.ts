import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { memberships } from '../memberships.ts';
import { Organization } from './usage.ts';

const Invoice = builder.prismaObject('Invoice', {
  description: "An organization's usage of one calendar month (UTC), closed by the monthly billing job.",
  fields: (t) => ({
    id: t.exposeID('id'),
    month: t.exposeString('month', { description: 'YYYY-MM' }),
    periodStart: t.expose('periodStart', { type: 'DateTime' }),
    periodEnd: t.expose('periodEnd', { type: 'DateTime' }),
    requests: t.float({ resolve: (invoice) => Number(invoice.requests) }),
    inputTokens: t.float({ resolve: (invoice) => Number(invoice.inputTokens) }),
    outputTokens: t.float({ resolve: (invoice) => Number(invoice.outputTokens) }),
    costUsd: t.exposeFloat('costUsd'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.objectField(Organization, 'invoices', (t) =>
  t.prismaField({
    type: [Invoice],
    description: 'Invoices, newest first. Owners and admins only.',
    args: { first: t.arg.int({ defaultValue: 12 }) },
    listSize: { slicingArguments: ['first'], requireOneSlicingArgument: false },
    resolve: async (query, org, { first }, ctx) => {
      await memberships.requireRole(ctx, org.id, ['OWNER', 'ADMIN']);
      return prisma.invoice.findMany({
        ...query,
        where: { organizationId: org.id },
        orderBy: { month: 'desc' },
        take: Math.min(Math.max(first ?? 12, 1), 120),
      });
    },
  }),
);
