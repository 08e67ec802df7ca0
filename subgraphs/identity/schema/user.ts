import { builder } from '../builder.ts';
import { prisma } from '../db.ts';

export const User = builder.prismaObject('User', {
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    emailVerified: t.boolean({ resolve: (user) => user.emailVerifiedAt !== null }),
    mfaEnabled: t.boolean({ resolve: (user) => user.mfaEnabledAt !== null }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

// Prisma batches the findUnique calls of one tick into a single query.
builder.asEntity(User, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (user) => prisma.user.findUnique({ where: { id: user.id } }),
});

builder.queryField('me', (t) =>
  t.prismaField({
    type: 'User',
    nullable: true,
    description: 'The signed-in user; null for anonymous callers and API keys.',
    resolve: (query, _root, _args, ctx) =>
      ctx.identity.kind === 'user' ? prisma.user.findUnique({ ...query, where: { id: ctx.identity.userId } }) : null,
  }),
);
