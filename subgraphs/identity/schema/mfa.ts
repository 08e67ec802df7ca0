import { z } from 'zod';
import { badUserInput, unauthenticated } from '@mindweave/errors';
import { requireUserId } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { newTotpSecret, otpauthUrl, verifyTotp } from '../mfa.ts';
import { consumeUserToken } from '../tokens.ts';
import { AuthPayload, sessionFor } from './auth.ts';

const MfaSetup = builder.objectRef<{ secret: string; otpauthUrl: string }>('MfaSetup').implement({
  description: 'Add the secret to an authenticator app, then call confirmMfa with a code from it.',
  fields: (t) => ({ secret: t.exposeString('secret'), otpauthUrl: t.exposeString('otpauthUrl') }),
});

const totpCode = z.string().regex(/^\d{6}$/, 'must be 6 digits');

builder.mutationFields((t) => ({
  enableMfa: t.field({
    type: MfaSetup,
    authenticated: true,
    resolve: async (_root, _args, ctx) => {
      const user = await prisma.user.findUniqueOrThrow({ where: { id: requireUserId(ctx) } });
      if (user.mfaEnabledAt) throw badUserInput('MFA is already enabled');
      const { secret, stored } = newTotpSecret();
      await prisma.user.update({ where: { id: user.id }, data: { mfaSecret: stored } });
      return { secret, otpauthUrl: otpauthUrl(user.email, secret) };
    },
  }),
  confirmMfa: t.boolean({
    authenticated: true,
    args: { code: t.arg.string({ required: true, validate: totpCode }) },
    resolve: async (_root, { code }, ctx) => {
      const user = await prisma.user.findUniqueOrThrow({ where: { id: requireUserId(ctx) } });
      if (!user.mfaSecret) throw badUserInput('Call enableMfa first');
      if (!verifyTotp(user.mfaSecret, code)) throw badUserInput('code: does not match', 'code');
      await prisma.user.update({ where: { id: user.id }, data: { mfaEnabledAt: new Date() } });
      return true;
    },
  }),
  disableMfa: t.boolean({
    authenticated: true,
    args: { code: t.arg.string({ required: true, validate: totpCode }) },
    resolve: async (_root, { code }, ctx) => {
      const user = await prisma.user.findUniqueOrThrow({ where: { id: requireUserId(ctx) } });
      if (!user.mfaEnabledAt || !user.mfaSecret) return false;
      if (!verifyTotp(user.mfaSecret, code)) throw badUserInput('code: does not match', 'code');
      await prisma.user.update({ where: { id: user.id }, data: { mfaEnabledAt: null, mfaSecret: null } });
      return true;
    },
  }),
  verifyMfaLogin: t.field({
    type: AuthPayload,
    description: 'The second step of a login that answered requiresMfa.',
    args: {
      mfaToken: t.arg.string({ required: true, validate: z.string().max(200) }),
      code: t.arg.string({ required: true, validate: totpCode }),
    },
    resolve: async (_root, { mfaToken, code }) => {
      const userId = await consumeUserToken(mfaToken, 'MFA_LOGIN');
      const user = userId ? await prisma.user.findUnique({ where: { id: userId } }) : null;
      if (!user?.mfaSecret || !verifyTotp(user.mfaSecret, code)) throw unauthenticated('Invalid MFA token or code');
      return sessionFor(user);
    },
  }),
}));
