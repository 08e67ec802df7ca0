import { authenticator } from 'otplib';
import { describe, expect, it } from 'vitest';
import { gql, registerUser, testPassword } from './client.ts';
import { outboxLink, sql } from './db.ts';

const login = 'mutation ($input: LoginInput!) { login(input: $input) { accessToken refreshToken requiresMfa mfaToken user { id } } }';
const refresh = 'mutation ($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken user { id } } }';

describe('sessions', () => {
  it('rotates refresh tokens, and reusing an old one revokes the whole family', async () => {
    const user = await registerUser();
    const first = await gql(refresh, { t: user.refreshToken });
    expect(first.errors).toBeUndefined();
    const second = first.data!.refreshToken;
    expect(second.refreshToken).not.toBe(user.refreshToken);
    expect(second.user.id).toBe(user.userId);
    expect((await gql('{ me { id } }', {}, { token: second.accessToken })).data).toEqual({ me: { id: user.userId } });

    // The first token again: a thief or a replay. The family dies, including the newest token.
    const reuse = await gql(refresh, { t: user.refreshToken });
    expect(reuse.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    const newest = await gql(refresh, { t: second.refreshToken });
    expect(newest.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');

    // Another login's family is untouched.
    const other = await gql(login, { input: { email: user.email, password: testPassword } });
    expect((await gql(refresh, { t: other.data!.login.refreshToken })).errors).toBeUndefined();
  });

  it('logout revokes the refresh token', async () => {
    const user = await registerUser();
    expect((await gql('mutation ($t: String!) { logout(refreshToken: $t) }', { t: user.refreshToken })).data).toEqual({ logout: true });
    expect((await gql(refresh, { t: user.refreshToken })).errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('gives the same error, in about the same time, for an unknown email and a wrong password', async () => {
    const user = await registerUser();
    const time = async (input: object) => {
      const started = performance.now();
      const result = await gql(login, { input });
      return { ms: performance.now() - started, error: result.errors?.[0] };
    };
    const samples = { unknown: [] as number[], wrong: [] as number[] };
    let unknownError: { extensions: { code: string } } | undefined;
    let wrongError: typeof unknownError;
    for (let i = 0; i < 5; i++) {
      const u = await time({ email: `nobody-${i}@example.com`, password: testPassword });
      const w = await time({ email: user.email, password: 'the wrong password' });
      samples.unknown.push(u.ms);
      samples.wrong.push(w.ms);
      unknownError = u.error;
      wrongError = w.error;
    }
    expect(unknownError).toEqual(wrongError);
    expect(unknownError?.extensions.code).toBe('UNAUTHENTICATED');
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // Both run one argon2id verification; without the decoy hash the unknown email would answer in a few ms.
    expect(median(samples.unknown)).toBeGreaterThan(median(samples.wrong) * 0.5);
    expect(median(samples.unknown)).toBeLessThan(median(samples.wrong) * 2);
  });
});

describe('MFA', () => {
  it('enables TOTP, then asks for the second step or accepts the code with the password', async () => {
    const user = await registerUser();
    const setup = await gql('mutation { enableMfa { secret otpauthUrl } }', {}, { token: user.accessToken });
    const { secret, otpauthUrl } = setup.data!.enableMfa;
    expect(otpauthUrl).toContain('otpauth://totp/');
    // Kept sealed (README: Secrets at rest), like the signing keys.
    const [stored] = await sql<{ mfaSecret: string }>('SELECT "mfaSecret" FROM identity.users WHERE id = $1', [user.userId]);
    expect(stored?.mfaSecret).toMatch(/^sealed:v1:/);
    expect(stored?.mfaSecret).not.toContain(secret);
    const keys = await sql<{ privateJwk: Record<string, unknown> }>('SELECT "privateJwk" FROM identity.signing_keys');
    expect(keys.map((key) => Object.keys(key.privateJwk))).toContainEqual(['sealed']);
    expect(
      (await gql('mutation ($c: String!) { confirmMfa(code: $c) }', { c: '000000' }, { token: user.accessToken })).errors?.[0]?.extensions
        .code,
    ).toBe('BAD_USER_INPUT');
    expect(
      (await gql('mutation ($c: String!) { confirmMfa(code: $c) }', { c: authenticator.generate(secret) }, { token: user.accessToken }))
        .data,
    ).toEqual({ confirmMfa: true });

    const step = await gql(login, { input: { email: user.email, password: testPassword } });
    expect(step.data!.login).toMatchObject({ requiresMfa: true, accessToken: null, refreshToken: null });
    const done = await gql('mutation ($t: String!, $c: String!) { verifyMfaLogin(mfaToken: $t, code: $c) { accessToken user { id } } }', {
      t: step.data!.login.mfaToken,
      c: authenticator.generate(secret),
    });
    expect(done.data!.verifyMfaLogin.user.id).toBe(user.userId);
    // The MFA token works once.
    const again = await gql('mutation ($t: String!, $c: String!) { verifyMfaLogin(mfaToken: $t, code: $c) { accessToken } }', {
      t: step.data!.login.mfaToken,
      c: authenticator.generate(secret),
    });
    expect(again.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');

    const oneStep = await gql(login, { input: { email: user.email, password: testPassword, mfaCode: authenticator.generate(secret) } });
    expect(oneStep.data!.login).toMatchObject({ requiresMfa: false, user: { id: user.userId } });
    const badCode = await gql(login, {
      input: { email: user.email, password: testPassword, mfaCode: '123456' === authenticator.generate(secret) ? '654321' : '123456' },
    });
    expect(badCode.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('password reset and email verification', () => {
  it('resets the password with the emailed token and signs out every session', async () => {
    const user = await registerUser();
    expect((await gql('mutation ($e: String!) { requestPasswordReset(email: $e) }', { e: user.email })).data).toEqual({
      requestPasswordReset: true,
    });
    expect((await gql('mutation ($e: String!) { requestPasswordReset(email: $e) }', { e: 'nobody@example.com' })).data).toEqual({
      requestPasswordReset: true,
    });
    const token = await outboxLink('user.password_reset', user.userId, 'resetUrl');
    const reset = 'mutation ($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }';
    expect((await gql(reset, { t: token, p: 'a brand new password' })).data).toEqual({ resetPassword: true });
    expect((await gql(reset, { t: token, p: 'yet another password' })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'token',
    });

    expect((await gql(refresh, { t: user.refreshToken })).errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect((await gql(login, { input: { email: user.email, password: testPassword } })).errors?.[0]?.extensions.code).toBe(
      'UNAUTHENTICATED',
    );
    expect((await gql(login, { input: { email: user.email, password: 'a brand new password' } })).data!.login.user.id).toBe(user.userId);
  });

  it('verifies the email with the token of the welcome event', async () => {
    const user = await registerUser();
    const me = '{ me { emailVerified } }';
    expect((await gql(me, {}, { token: user.accessToken })).data).toEqual({ me: { emailVerified: false } });
    const token = await outboxLink('user.created', user.userId, 'verificationUrl');
    expect((await gql('mutation ($t: String!) { verifyEmail(token: $t) }', { t: token })).data).toEqual({ verifyEmail: true });
    expect((await gql(me, {}, { token: user.accessToken })).data).toEqual({ me: { emailVerified: true } });
  });
});
