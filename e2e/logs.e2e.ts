import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gql, registerUser, stack } from './client.ts';

async function allLogs(): Promise<string> {
  const files = (await readdir(stack.logDir, { withFileTypes: true })).filter((entry) => entry.isFile() && entry.name.endsWith('.log'));
  return (await Promise.all(files.map((f) => readFile(join(stack.logDir, f.name), 'utf8')))).join('\n');
}

describe('logs', () => {
  it('carry no password or token of a login, and carry its request id in every service', async () => {
    const user = await registerUser();
    const requestId = `login-${Date.now()}`;
    const result = await gql(
      'mutation ($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }',
      { input: { email: user.email, password: user.password } },
      { headers: { 'x-request-id': requestId, authorization: `Bearer ${user.accessToken}` } },
    );
    const { accessToken, refreshToken } = result.data!.login;
    await new Promise((r) => setTimeout(r, 300)); // let the services flush

    const logs = await allLogs();
    const loginLines = logs.split('\n').filter((line) => line.includes(requestId));
    // The router and the identity subgraph both logged the operation, variables included (at debug).
    expect(loginLines.some((l) => l.includes('"service":"router"') && l.includes('operation variables'))).toBe(true);
    expect(loginLines.some((l) => l.includes('"service":"identity"') && l.includes('operation variables'))).toBe(true);
    expect(loginLines.join('\n')).toContain('[redacted]');

    for (const secret of [user.password, accessToken, refreshToken, user.accessToken, user.refreshToken]) {
      expect(logs.includes(secret), `a log contains ${secret.slice(0, 12)}...`).toBe(false);
    }
  });
});
