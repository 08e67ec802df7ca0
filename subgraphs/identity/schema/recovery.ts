import { z } from 'zod';
import { badUserInput } from '@mindweave/errors';
import { requireUserId } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { env } from '../env.ts';
import { hashPassword } from '../passwords.ts';
import { consumeUserToken, createUserToken, endSessions, liveSessionsOf } from '../tokens.ts';
import { email, password } from './auth.ts';

// The emails themselves are sent by the background layer from these outbox events.
builder.mutationFields((t) => ({
  requestPasswordReset: t.boolean({
    description: 'Always true, so that it does not reveal which emails have accounts.',
    args: { email: t.arg.string({ required: true, validate: email }) },
    resolve: async (_root, args) => {
      const user = await prisma.user.findUnique({ where: { email: args.email } });
      if (user) {
        await prisma.$transaction(async (tx) => {
          const token = await createUserToken(user.id, 'PASSWORD_RESET', tx);
          await tx.outboxEvent.create({
            data: {
              type: 'user.password_reset',
              aggregateId: user.id,
              payload: {
                userId: user.id,
                email: user.email,
                name: user.name,
                resetUrl: `${env.PUBLIC_APP_URL}/reset-password?token=${token}`,
              },
            },
          });
        });
      }
      return true;
    },
  }),
  resetPassword: t.boolean({
    description: 'Sets a new password and signs out every session.',
    args: {
      token: t.arg.string({ required: true, validate: z.string().max(200) }),
      newPassword: t.arg.string({ required: true, validate: password }),
    },
    resolve: async (_root, args) => {
      const userId = await consumeUserToken(args.token, 'PASSWORD_RESET');
      if (!userId) throw badUserInput('token: invalid or expired', 'token');
      const passwordHash = await hashPassword(args.newPassword);
      // Every sign-in ends: refresh tokens revoked, and the access tokens still alive refused by the routers.
      await endSessions(userId, await liveSessionsOf(userId), 'password_reset', async (tx) => {
        await tx.user.update({ where: { id: userId }, data: { passwordHash } });
        await tx.refreshToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: new Date() } });
      });
      return true;
    },
  }),
  verifyEmail: t.boolean({
    args: { token: t.arg.string({ required: true, validate: z.string().max(200) }) },
    resolve: async (_root, args) => {
      const userId = await consumeUserToken(args.token, 'EMAIL_VERIFICATION');
      if (!userId) throw badUserInput('token: invalid or expired', 'token');
      await prisma.user.update({ where: { id: userId }, data: { emailVerifiedAt: new Date() } });
      return true;
    },
  }),
  resendEmailVerification: t.boolean({
    authenticated: true,
    resolve: async (_root, _args, ctx) => {
      const user = await prisma.user.findUniqueOrThrow({ where: { id: requireUserId(ctx) } });
      if (user.emailVerifiedAt) return false;
      await prisma.$transaction(async (tx) => {
        const token = await createUserToken(user.id, 'EMAIL_VERIFICATION', tx);
        await tx.outboxEvent.create({
          data: {
            type: 'user.verification_requested',
            aggregateId: user.id,
            payload: {
              userId: user.id,
              email: user.email,
              name: user.name,
              verificationUrl: `${env.PUBLIC_APP_URL}/verify-email?token=${token}`,
            },
          },
        });
      });
      return true;
    },
  }),
}));
