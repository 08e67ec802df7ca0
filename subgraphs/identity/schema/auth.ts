import { z } from 'zod';
import { conflict, unauthenticated } from '@mindweave/errors';
import { isUniqueViolation } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { env } from '../env.ts';
import type { User as UserRow } from '../generated/prisma/client.ts';
import { verifyTotp } from '../mfa.ts';
import { checkPassword, hashPassword } from '../passwords.ts';
import { createUserToken, issueSession, revokeRefreshToken, rotateRefreshToken } from '../tokens.ts';
import { User } from './user.ts';

type AuthPayloadShape = {
  accessToken?: string;
  refreshToken?: string;
  user?: UserRow;
  requiresMfa: boolean;
  mfaToken?: string;
};

export const AuthPayload = builder.objectRef<AuthPayloadShape>('AuthPayload').implement({
  description: 'A session. When `requiresMfa` is true, only `mfaToken` is set: finish with `verifyMfaLogin`.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken', { nullable: true }),
    refreshToken: t.exposeString('refreshToken', { nullable: true }),
    user: t.field({ type: User, nullable: true, resolve: (payload) => payload.user }),
    requiresMfa: t.exposeBoolean('requiresMfa'),
    mfaToken: t.exposeString('mfaToken', { nullable: true }),
  }),
});

export const email = z
  .email('must be a valid email address')
  .max(254)
  .transform((value) => value.trim().toLowerCase());
export const password = z.string().min(10, 'must be at least 10 characters').max(256, 'must be at most 256 characters');

const RegisterInput = builder.inputType('RegisterInput', {
  fields: (t) => ({
    email: t.string({ required: true, validate: email }),
    password: t.string({ required: true, validate: password }),
    name: t.string({ required: true, validate: z.string().trim().min(1, 'must not be empty').max(100) }),
  }),
});

const LoginInput = builder.inputType('LoginInput', {
  fields: (t) => ({
    email: t.string({
      required: true,
      validate: z
        .string()
        .max(254)
        .transform((v) => v.trim().toLowerCase()),
    }),
    password: t.string({ required: true, validate: z.string().max(256) }),
    mfaCode: t.string({ required: false, validate: z.string().regex(/^\d{6}$/, 'must be 6 digits') }),
  }),
});

export async function sessionFor(user: UserRow): Promise<AuthPayloadShape> {
  return { ...(await issueSession(user.id)), user, requiresMfa: false };
}

builder.mutationFields((t) => ({
  register: t.field({
    type: AuthPayload,
    cost: 20,
    args: { input: t.arg({ type: RegisterInput, required: true }) },
    resolve: async (_root, { input }) => {
      const passwordHash = await hashPassword(input.password);
      const user = await prisma
        .$transaction(async (tx) => {
          const created = await tx.user.create({ data: { email: input.email, name: input.name, passwordHash } });
          const verificationToken = await createUserToken(created.id, 'EMAIL_VERIFICATION', tx);
          await tx.outboxEvent.create({
            data: {
              type: 'user.created',
              aggregateId: created.id,
              payload: {
                userId: created.id,
                email: created.email,
                name: created.name,
                verificationUrl: `${env.PUBLIC_APP_URL}/verify-email?token=${verificationToken}`,
              },
            },
          });
          return created;
        })
        .catch((error: unknown) => {
          if (isUniqueViolation(error)) throw conflict('An account with this email already exists', 'input.email');
          throw error;
        });
      return sessionFor(user);
    },
  }),
  login: t.field({
    type: AuthPayload,
    cost: 20,
    args: { input: t.arg({ type: LoginInput, required: true }) },
    resolve: async (_root, { input }) => {
      const user = await prisma.user.findUnique({ where: { email: input.email } });
      // Same answer, and about the same time, for an unknown email and a wrong password.
      if (!(await checkPassword(user?.passwordHash, input.password)) || !user) throw unauthenticated('Invalid email or password');
      if (user.mfaEnabledAt && user.mfaSecret) {
        if (!input.mfaCode) return { requiresMfa: true, mfaToken: await createUserToken(user.id, 'MFA_LOGIN') };
        if (!verifyTotp(user.mfaSecret, input.mfaCode)) throw unauthenticated('Invalid MFA code');
      }
      return sessionFor(user);
    },
  }),
  refreshToken: t.field({
    type: AuthPayload,
    args: { refreshToken: t.arg.string({ required: true, validate: z.string().max(200) }) },
    resolve: async (_root, args) => {
      const { userId, accessToken, refreshToken } = await rotateRefreshToken(args.refreshToken);
      const user = await prisma.user.findUnique({ where: { id: userId } });
      return { accessToken, refreshToken, user: user ?? undefined, requiresMfa: false };
    },
  }),
  logout: t.boolean({
    description:
      'Ends the session: revokes the refresh token and every token rotated from the same sign-in, and its access tokens stop working at once (on open connections too).',
    args: { refreshToken: t.arg.string({ required: true, validate: z.string().max(200) }) },
    resolve: (_root, args) => revokeRefreshToken(args.refreshToken),
  }),
}));
