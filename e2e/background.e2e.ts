import { describe, expect, it } from 'vitest';
import { signIdentity } from '@mindweave/service-kit';
import { createTenant, stack } from './client.ts';

const routerBase = new URL(stack.routerUrl).origin;
const secret = stack.env['INTERNAL_SIGNING_SECRET'] ?? 'development-only-internal-signing-secret';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A POST, signed over its body by `sign` when given. */
async function post(url: string, payload: unknown, sign?: (body: string) => Record<string, string>) {
  const body = JSON.stringify(payload);
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...sign?.(body) }, body });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('the queue dashboard', () => {
  it('asks for admin credentials, then shows the queues', async () => {
    const anonymous = await fetch(`${routerBase}/admin/queues`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="MindWeave queues"/);
    expect(((await anonymous.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect((await fetch(`${routerBase}/admin/queues/api/queues`, { headers: { authorization: basic('admin', 'wrong') } })).status).toBe(
      401,
    );

    // The test stack's credentials (outside production they default to admin/admin).
    const authorization = basic(stack.env['ADMIN_USER'] ?? 'admin', stack.env['ADMIN_PASSWORD'] ?? 'admin');
    const page = await fetch(`${routerBase}/admin/queues`, { headers: { authorization } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<html');
    // The dashboard's own scripts and styles are served under the same path, behind the same check.
    const asset = /src="(static\/js\/[^"]+)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    expect((await fetch(`${routerBase}/admin/queues/${asset}`, { headers: { authorization } })).status).toBe(200);
    expect((await fetch(`${routerBase}/admin/queues/${asset}`)).status).toBe(401);
    const api = await fetch(`${routerBase}/admin/queues/api/queues`, { headers: { authorization } });
    expect(api.status).toBe(200);
    const { queues } = (await api.json()) as { queues: { name: string }[] };
    expect(queues.map((q) => q.name).sort()).toEqual(['analytics', 'email', 'reports', 'webhooks']);
  });
});

describe("the workers' internal routes", () => {
  const accounts = `http://127.0.0.1:${stack.basePort + 2}`;
  const identity = `http://127.0.0.1:${stack.basePort + 1}`;
  const asService = () => (body: string) => signIdentity(secret, { kind: 'service', service: 'workers' }, 'internal-routes-test', body);

  it("answers an organization's plan and members, and users' emails, to signed services only", async () => {
    const tenant = await createTenant();
    expect((await post(`${accounts}/internal/organizations`, { organizationId: tenant.organizationId })).status).toBe(401);
    expect(
      (
        await post(`${accounts}/internal/organizations`, { organizationId: tenant.organizationId }, (body) =>
          signIdentity(secret, { kind: 'user', userId: tenant.user.userId }, 'r', body),
        )
      ).status,
    ).toBe(401);
    const org = await post(`${accounts}/internal/organizations`, { organizationId: tenant.organizationId }, asService());
    expect(org).toEqual({
      status: 200,
      body: { id: tenant.organizationId, name: 'Tenant', plan: 'FREE', members: [{ userId: tenant.user.userId, role: 'OWNER' }] },
    });
    expect(
      (await post(`${accounts}/internal/organizations`, { organizationId: '00000000-0000-4000-8000-000000000000' }, asService())).status,
    ).toBe(404);

    expect((await post(`${identity}/internal/users`, { ids: [tenant.user.userId] })).status).toBe(401);
    const users = await post(`${identity}/internal/users`, { ids: [tenant.user.userId, 'not-a-uuid'] }, asService());
    expect(users).toEqual({ status: 200, body: { users: [{ id: tenant.user.userId, email: tenant.user.email, name: 'Test User' }] } });
  });
});
