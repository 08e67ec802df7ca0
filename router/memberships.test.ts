import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { membershipsByUserRoute } from '@mindweave/accounts/internal-routes';
import { verifyIdentity } from '@mindweave/service-kit';
import { createMembershipLookup, isMemberOf } from './memberships.ts';

const secret = 's'.repeat(40);
const requests: Record<string, unknown>[] = [];
let answer: 'ok' | 'down' = 'ok';
// Accounts' internal route as the test needs it: signed calls only, every user a MEMBER of `org-<user>`, user `lost` left out.
const accounts = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const caller = verifyIdentity(secret, { get: (name) => (req.headers[name] as string | undefined) ?? null }, body);
    if (answer === 'down' || caller?.identity.kind !== 'service') return void res.writeHead(answer === 'down' ? 503 : 401).end();
    const parsed = JSON.parse(body.toString()) as { userId?: string; userIds?: string[] };
    requests.push(parsed);
    const of = (id: string) => [{ organizationId: `org-${id}`, role: 'MEMBER' }];
    const payload =
      req.url === membershipsByUserRoute.path
        ? { byUser: Object.fromEntries(parsed.userIds!.filter((id) => id !== 'lost').map((id) => [id, of(id)])) }
        : { memberships: of(parsed.userId!) };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  });
});
let accountsUrl = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => accounts.listen(0, '127.0.0.1', resolve));
  accountsUrl = `http://127.0.0.1:${(accounts.address() as { port: number }).port}`;
});
afterAll(() => new Promise((resolve) => accounts.close(resolve)));

describe('the membership lookup', () => {
  it('asks once per user while the answer is fresh, again once forgotten or when told to', async () => {
    requests.length = 0;
    const lookup = createMembershipLookup({ accountsUrl, signingSecret: secret });
    expect(await lookup.of('u1')).toEqual(['org-u1:MEMBER']);
    await lookup.of('u1');
    expect(requests).toHaveLength(1);
    lookup.forget('u1');
    await lookup.of('u1');
    await lookup.of('u1', true);
    expect(requests).toHaveLength(3);
    expect(isMemberOf(['org-u1:MEMBER'], 'org-u1')).toBe(true);
    expect(isMemberOf(['org-u10:MEMBER'], 'org-u1')).toBe(false);
  });

  it('asks for many users a thousand at a time, and leaves out a user accounts did not answer for', async () => {
    requests.length = 0;
    const lookup = createMembershipLookup({ accountsUrl, signingSecret: secret });
    const ids = [...Array.from({ length: 2_500 }, (_, i) => `u${i}`), 'lost'];
    const answered = await lookup.ofMany(ids);
    expect(requests.map((r) => (r['userIds'] as string[]).length)).toEqual([1_000, 1_000, 501]);
    expect(answered?.size).toBe(2_500);
    expect(answered?.get('u2499')).toEqual(['org-u2499:MEMBER']);
    expect(answered?.has('lost')).toBe(false);
    // What it learnt serves the next single question.
    expect(await lookup.of('u7')).toEqual(['org-u7:MEMBER']);
    expect(requests).toHaveLength(3);
  });

  it('answers null, and caches nothing, while accounts cannot tell', async () => {
    answer = 'down';
    const lookup = createMembershipLookup({ accountsUrl, signingSecret: secret });
    expect(await lookup.of('u1')).toBeNull();
    expect(await lookup.ofMany(['u1'])).toBeNull();
    answer = 'ok';
    expect(await lookup.of('u1')).toEqual(['org-u1:MEMBER']);
  });
});
