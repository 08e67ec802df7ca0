import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { authenticator } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { recordDemoUsage, type DemoUsage } from '../scripts/demo-usage.ts';
import { repoRoot } from '../scripts/stack.ts';
import { accessibilityViolations, artifactsDir, launchBrowser, openPage, screenshot, skipBrowserTests } from './browser.ts';
import { createTenant, gql, registerUser, stack, unique } from './client.ts';
import { startExtraRouter } from './extra-router.ts';

// The dashboard as a person uses it: the built app (apps/dashboard/dist, which the test command
// builds) served by a router in safelist mode, so that every operation it sends must be one of the
// SDK's trusted documents, driven in Chromium. The data it shows is recorded through the API.

const manifestFile = join(repoRoot, 'packages/sdk/persisted-documents.json');
const recordUsage = 'mutation ($input: UsageInput!) { recordUsage(input: $input) { accepted } }';
const series =
  'query ($o: ID!, $from: DateTime!, $to: DateTime!) { usageSeries(organizationId: $o, from: $from, to: $to, granularity: HOUR) { requests inputTokens outputTokens } }';

async function until<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Usage the analytics consumer has persisted for an organization over the last `days` days. */
async function persisted(organizationId: string, token: string, days: number) {
  const result = await gql<{ usageSeries: { requests: number; inputTokens: number; outputTokens: number }[] }>(
    series,
    { o: organizationId, from: new Date(Date.now() - days * 86_400_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() },
    { token },
  );
  const points = result.data?.usageSeries ?? [];
  return { requests: points.reduce((s, p) => s + p.requests, 0), tokens: points.reduce((s, p) => s + p.inputTokens + p.outputTokens, 0) };
}

const written: string[] = [];
// Only this run's screenshots, so that none of an earlier failure is taken for this one's.
beforeAll(() => rm(artifactsDir, { recursive: true, force: true }));
afterAll(() => {
  if (written.length) process.stdout.write(`\nBrowser test screenshots (${written.length}) in ${artifactsDir}\n`);
});
async function shoot(page: Page, name: string) {
  written.push(await screenshot(page, name));
}
/** A screenshot of a dashboard page, which must also pass axe-core's WCAG 2.2 AA checks as it is. */
async function shootAndCheck(page: Page, name: string) {
  await shoot(page, name);
  expect(await accessibilityViolations(page), `accessibility of ${name}`).toEqual([]);
}

describe.skipIf(skipBrowserTests)('the dashboard, in Chromium', () => {
  let router: Awaited<ReturnType<typeof startExtraRouter>>;
  let browser: Browser;
  let tenant: Awaited<ReturnType<typeof createTenant>>;
  let seeded: DemoUsage;
  let session: Awaited<ReturnType<typeof openPage>>;
  let dashboardUrl: string;

  beforeAll(async () => {
    [router, browser, tenant] = await Promise.all([
      startExtraRouter('router-dashboard', { PERSISTED_QUERIES: 'safelist', PERSISTED_QUERIES_MANIFEST: manifestFile }),
      launchBrowser(),
      createTenant(['usage:write', 'usage:read', 'projects:read']),
    ]);
    dashboardUrl = `http://127.0.0.1:${router.port}/dashboard/`;
    seeded = await recordDemoUsage({ url: stack.routerUrl, apiKey: tenant.apiKey, days: 2 });
    expect(seeded.accepted).toBe(seeded.events);
    await until(
      async () => (await persisted(tenant.organizationId, tenant.user.accessToken, 3)).tokens === seeded.tokens,
      'the seeded usage to be persisted',
    );
    session = await openPage(browser);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await router?.stop();
  });

  beforeEach(({ task, onTestFailed: onFailed }) => {
    onFailed(() => shoot(session.page, `failed-${task.name.split(' ').slice(0, 4).join('-')}`).then(() => undefined));
  });

  it('signs in with email and password', async () => {
    const { page } = session;
    await page.goto(dashboardUrl);
    await expect.poll(() => page.getByRole('heading', { name: 'MindWeave' }).isVisible()).toBe(true);
    await shootAndCheck(page, '1-sign-in');
    await page.getByLabel('Email').fill(tenant.user.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('do not match an account');

    await page.getByLabel('Password').fill(tenant.user.password);
    await page.getByRole('button', { name: 'Sign in' }).press('Enter');
    await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor();
    expect(await page.getByRole('combobox', { name: 'Organization' }).inputValue()).toBe(tenant.organizationId);
    expect(await page.getByRole('combobox', { name: 'Project' }).inputValue()).toBe(tenant.projectId);
  });

  it('shows the usage recorded through the API as a chart, by model and by project', async () => {
    const { page } = session;
    await page.getByLabel('Last 7 days').check();
    const figure = page.locator('figure.chart-figure');
    await expect.poll(() => figure.getAttribute('data-total')).toBe(String(seeded.tokens));
    await page.getByLabel('Requests', { exact: true }).check();
    await expect.poll(() => figure.getAttribute('data-total')).toBe(String(seeded.events));
    // uPlot drew on its canvas: some pixels are the bars' blue.
    const drawn = await page.locator('.chart canvas').evaluate((canvas: HTMLCanvasElement) => {
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let blue = 0;
      for (let i = 0; i < pixels.length; i += 4) if (pixels[i + 2]! > 150 && pixels[i]! < 100 && pixels[i + 3]! > 0) blue++;
      return blue;
    });
    expect(drawn).toBeGreaterThan(100);
    const byModel = page.getByRole('region', { name: 'By model' });
    for (const model of ['gpt-4o-mini', 'claude-3-5-haiku', 'gpt-4o'])
      await expect.poll(() => byModel.getByRole('rowheader', { name: model, exact: true }).count()).toBe(1);
    await expect
      .poll(() => page.getByRole('region', { name: 'By project' }).getByRole('rowheader').first().textContent())
      .toContain('Project');
    await page.getByLabel('Tokens', { exact: true }).check();
    await page.getByLabel('Last 24 hours').check();
    await shootAndCheck(page, '2-usage');
  });

  it('moves the live feed, the counters and the chart within 2 seconds of usage recorded through the API', async () => {
    const { page } = session;
    await expect.poll(() => page.locator('.live-status').textContent(), { timeout: 15_000 }).toBe('Live');
    const feed = page.getByRole('region', { name: 'Live feed' });
    const record = (model: string, inputTokens: number, outputTokens: number) =>
      gql(recordUsage, { input: { model, inputTokens, outputTokens, latencyMs: 120 } }, { token: tenant.apiKey }).then((r) =>
        expect(r.errors).toBeUndefined(),
      );

    // The router authorizes a new subscription asynchronously: the first event proves it is in place.
    await until(async () => {
      const model = unique('warm-up');
      await record(model, 1, 1);
      return feed
        .getByText(model)
        .waitFor({ timeout: 2_000 })
        .then(
          () => true,
          () => false,
        );
    }, 'the live feed to receive a first event');

    const figure = page.locator('figure.chart-figure');
    const requests = page.locator('.stats dd').first();
    const before = {
      latest: Number(await figure.getAttribute('data-latest')),
      requests: Number(await requests.getAttribute('data-value')),
      events: Number(await page.locator('[data-events]').getAttribute('data-events')),
    };
    const model = unique('live');
    const started = Date.now();
    await record(model, 1_234, 567);
    await feed.getByText(model).waitFor({ timeout: 5_000 });
    // A new hour may have begun since the page loaded, in which case the event opens a new bucket.
    await page.waitForFunction(
      ({ expected }) => expected.includes(Number(document.querySelector('figure.chart-figure')?.getAttribute('data-latest'))),
      { expected: [before.latest + 1_801, 1_801] },
      { timeout: 5_000, polling: 'raf' },
    );
    const elapsed = Date.now() - started;
    process.stdout.write(`the live feed and the chart moved ${elapsed} ms after recordUsage was called\n`);
    expect(elapsed, `the feed and the chart moved ${elapsed} ms after the call`).toBeLessThan(2_000);
    expect(Number(await requests.getAttribute('data-value'))).toBe(before.requests + 1);
    expect(Number(await page.locator('[data-events]').getAttribute('data-events'))).toBe(before.events + 1);
    await shootAndCheck(page, '3-usage-live');
  });

  it('creates an API key, shows it once, and revokes it', async () => {
    const { page } = session;
    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/dashboard/keys');
    const name = unique('browser key');
    await page.getByLabel('Name').fill(name);
    await page.getByRole('checkbox', { name: /policies:read/ }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: `Your new key “${name}”` });
    await dialog.waitFor();
    const key = (await dialog.getByTestId('secret').textContent())!.trim();
    expect(key).toMatch(/^mw_sk_/);
    await shootAndCheck(page, '4-keys-created');
    // The key works, with the scopes picked.
    const usable = await gql('query ($o: ID!) { organization(id: $o) { policies { id } } }', { o: tenant.organizationId }, { token: key });
    expect(usable.errors).toBeUndefined();
    await dialog.getByRole('button', { name: 'I have stored it' }).click();
    await dialog.waitFor({ state: 'hidden' });

    const row = page.getByRole('row').filter({ hasText: name });
    await expect.poll(() => row.textContent()).toContain('Active');
    expect(await row.textContent()).toContain('policies:read');
    await row.getByRole('button', { name: `Revoke ${name}` }).click();
    await page
      .getByRole('dialog', { name: `Revoke “${name}”?` })
      .getByRole('button', { name: 'Revoke key' })
      .click();
    await expect.poll(() => row.textContent()).toContain('Revoked');
    // Refused from then on (the router's key cache is evicted on revocation).
    const refused = await gql('query ($o: ID!) { organization(id: $o) { id } }', { o: tenant.organizationId }, { token: key });
    expect(refused.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    await shootAndCheck(page, '5-keys-revoked');
  });

  it('lists the policies and their recent violations', async () => {
    const { page } = session;
    const created = await gql(
      'mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id } }',
      {
        input: {
          organizationId: tenant.organizationId,
          name: 'No previews',
          type: 'MODEL_DENYLIST',
          rules: { models: ['preview-*'] },
          enforcing: false,
        },
      },
      { token: tenant.user.accessToken },
    );
    expect(created.errors).toBeUndefined();
    // The usage path learns of the policy within about a second.
    await until(async () => {
      const result = await gql<{ recordUsage: { violations: unknown[] } }>(
        'mutation ($input: UsageInput!) { recordUsage(input: $input) { violations { policyName } } }',
        { input: { model: 'preview-1', inputTokens: 10, outputTokens: 5, latencyMs: 10 } },
        { token: tenant.apiKey },
      );
      return (result.data?.recordUsage.violations.length ?? 0) > 0;
    }, 'the policy to be applied');
    await until(async () => {
      const log = await gql<{ organization: { policyAuditLog: { edges: unknown[] } } }>(
        'query ($o: ID!) { organization(id: $o) { policyAuditLog(kind: POLICY_VIOLATED) { edges { cursor } } } }',
        { o: tenant.organizationId },
        { token: tenant.user.accessToken },
      );
      return (log.data?.organization.policyAuditLog.edges.length ?? 0) > 0;
    }, 'the violation to reach the audit log');

    await page.getByRole('link', { name: 'Policies' }).click();
    const policy = page.getByRole('region', { name: 'Policies' }).getByRole('row').filter({ hasText: 'No previews' });
    await expect.poll(() => policy.textContent()).toContain('Audit only');
    expect(await policy.textContent()).toContain('Not preview-*');
    const violation = page.getByRole('region', { name: 'Recent violations' }).getByRole('row').filter({ hasText: 'preview-1' });
    await expect.poll(() => violation.textContent()).toContain('No previews');
    await shootAndCheck(page, '6-policies');
  });

  it('adds a webhook endpoint, shows its secret once and lists its deliveries', { timeout: 60_000 }, async () => {
    const { page } = session;
    const received: IncomingHttpHeaders[] = [];
    const receiver = createServer((req, res) => {
      received.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks'));
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      await page.getByRole('link', { name: 'Webhooks' }).click();
      await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
      await page.getByLabel('URL').fill(url);
      await page.getByLabel('Description (optional)').fill('browser test');
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      const dialog = page.getByRole('dialog', { name: 'Signing secret' });
      await dialog.waitFor();
      expect(await dialog.locator('code.secret').textContent()).toMatch(/^whsec_/);
      await dialog.getByRole('button', { name: 'I have stored it' }).click();

      // The workers learn of a new endpoint within 5 s (they cache each organization's endpoints).
      await until(async () => {
        await gql(
          recordUsage,
          { input: { model: 'gpt-4o-mini', inputTokens: 5, outputTokens: 5, latencyMs: 5 } },
          { token: tenant.apiKey },
        );
        await new Promise((r) => setTimeout(r, 1_000));
        return received.length > 0;
      }, 'a delivery to the receiver');
      expect(received[0]!['mindweave-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      const deliveries = page.getByRole('region', { name: `Deliveries to ${url}` });
      await until(async () => {
        await deliveries.getByRole('button', { name: 'Refresh' }).click();
        return (await deliveries.getByText('Delivered (HTTP 200)').count()) > 0;
      }, 'the delivery in the log');
      expect(await deliveries.textContent()).toContain('thanks');
      await shootAndCheck(page, '7-webhooks');
    } finally {
      receiver.close();
    }
  });

  it('requests an export, follows it until it is ready, and downloads it', async () => {
    const { page } = session;
    await page.getByRole('link', { name: 'Exports' }).click();
    await page.getByRole('heading', { name: 'Exports', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Request export' }).click();
    const row = page.getByRole('region', { name: 'Your exports' }).getByRole('row').nth(1);
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toContain('Ready');
    const rows = Number((await row.getByRole('cell').nth(3).textContent())!.replaceAll(',', ''));
    expect(rows).toBeGreaterThanOrEqual(seeded.events);
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: /Download/ }).click()]);
    const csv = await readFile((await download.path())!, 'utf8');
    expect(csv.trimEnd().split('\r\n')).toHaveLength(rows + 1);
    await shootAndCheck(page, '8-exports');
  });

  it('works offline and without errors: nothing left this machine, nothing failed in the console', () => {
    expect(session.offMachine).toEqual([]);
    expect(session.errors).toEqual([]);
  });

  it('works with the keyboard alone', async () => {
    const { context, page } = await openPage(browser);
    try {
      onTestFailed(() => shoot(page, 'failed-keyboard').then(() => undefined));
      await page.goto(dashboardUrl);
      // The email field takes the focus once the page has rendered; Tab and Enter do the rest.
      await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('email');
      await page.keyboard.type(tenant.user.email);
      await page.keyboard.press('Tab');
      await page.keyboard.type(tenant.user.password);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor();
      const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
      // The first Tab reaches the skip link, which takes the focus to the content.
      await page.keyboard.press('Tab');
      expect(await focused()).toBe('Skip to content');
      for (let i = 0; i < 20 && (await focused()) !== 'API keys'; i++) await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
      await expect.poll(focused).toBe('API keys');
      expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
      // A dialog opened from the keyboard closes with Escape.
      await page
        .getByRole('button', { name: /^Revoke / })
        .first()
        .focus();
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
    } finally {
      await context.close();
    }
  });

  it('asks for the authentication code when MFA is on', async () => {
    const user = await registerUser('MFA User');
    const { secret } = (await gql<{ enableMfa: { secret: string } }>('mutation { enableMfa { secret } }', {}, { token: user.accessToken }))
      .data!.enableMfa;
    expect(
      (await gql('mutation ($c: String!) { confirmMfa(code: $c) }', { c: authenticator.generate(secret) }, { token: user.accessToken }))
        .errors,
    ).toBeUndefined();
    await gql(
      'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }',
      { input: { name: 'MFA Org', slug: unique('mfa') } },
      { token: user.accessToken },
    );

    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(dashboardUrl);
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const code = page.getByLabel('Authentication code');
      await code.waitFor();
      expect(await code.evaluate((input) => input === document.activeElement)).toBe(true);
      await code.fill(authenticator.generate(secret));
      await shootAndCheck(page, '9-sign-in-mfa');
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor();
      expect(await page.getByRole('combobox', { name: 'Organization' }).locator('option:checked').textContent()).toBe('MFA Org');
      // A reload keeps the session (the refresh token is in the tab's sessionStorage).
      await page.reload();
      await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('says which role an action needs when the user lacks it', async () => {
    const viewer = await registerUser('Viewer');
    const added = await gql(
      'mutation ($input: AddMemberInput!) { addMember(input: $input) { role } }',
      { input: { organizationId: tenant.organizationId, userId: viewer.userId, role: 'VIEWER' } },
      { token: tenant.user.accessToken },
    );
    expect(added.errors).toBeUndefined();
    const { context, page } = await openPage(browser);
    try {
      await page.goto(`${dashboardUrl}keys`);
      await page.getByLabel('Email').fill(viewer.email);
      await page.getByLabel('Password').fill(viewer.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
      await page.getByLabel('Name').fill('not allowed');
      await page.getByRole('button', { name: 'Create key' }).click();
      await expect
        .poll(() => page.getByRole('alert').first().textContent())
        .toContain('Only owners or admins of this organization can create API keys. You are a viewer.');
      await page.getByRole('link', { name: 'Webhooks' }).click();
      await expect
        .poll(() => page.getByRole('alert').first().textContent())
        .toContain('Only owners or admins of this organization can see webhook endpoints.');
      await shootAndCheck(page, '10-forbidden');
    } finally {
      await context.close();
    }
  });
});

describe.skipIf(skipBrowserTests)('the GraphQL IDE, in Chromium', () => {
  let router: Awaited<ReturnType<typeof startExtraRouter>>;
  let browser: Browser;
  let tenant: Awaited<ReturnType<typeof createTenant>>;
  const demoFile = join(stack.logDir, `demo-${randomBytes(4).toString('hex')}.json`);

  beforeAll(async () => {
    tenant = await createTenant(['usage:write', 'usage:read']);
    // What the start command writes for its demo tenant.
    await writeFile(
      demoFile,
      JSON.stringify({
        email: tenant.user.email,
        password: tenant.user.password,
        organizationId: tenant.organizationId,
        projectId: tenant.projectId,
        apiKey: tenant.apiKey,
      }),
    );
    [router, browser] = await Promise.all([
      startExtraRouter('router-ide', { NODE_ENV: 'development', GRAPHQL_IDE_DEMO_FILE: demoFile }),
      launchBrowser(),
    ]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await router?.stop();
    await rm(demoFile, { force: true });
  });

  it('serves GraphiQL at /graphql with the demo API key, runs queries over HTTP and subscriptions over graphql-ws', async () => {
    const { context, page, offMachine, errors } = await openPage(browser);
    onTestFailed(async () => {
      await shoot(page, 'failed-ide');
      process.stderr.write(`IDE console errors: ${JSON.stringify(errors)}\n`);
    });
    try {
      await page.goto(`http://127.0.0.1:${router.port}/graphql`);
      // The demo key is in the headers tab, and the demo operations in the editor.
      await page.locator('.view-line', { hasText: `"Authorization": "Bearer ${tenant.apiKey}"` }).waitFor();
      await page.locator('.view-line', { hasText: 'subscription LiveUsage' }).waitFor();
      const run = async (operation: string) => {
        await page.getByRole('button', { name: /Execute query/ }).click();
        await page.getByRole('menuitem', { name: operation }).click();
      };
      const response = page.locator('.graphiql-response');

      await run('DemoUsage');
      await expect.poll(() => response.textContent(), { timeout: 10_000 }).toContain('"usageSeries"');
      expect(await response.textContent()).not.toContain('"errors"');
      await shoot(page, '11-ide');

      await run('LiveUsage');
      // Recorded until the subscription is in place: then the event arrives in the response pane.
      const model = unique('ide');
      await until(
        async () => {
          await gql(recordUsage, { input: { model, inputTokens: 7, outputTokens: 3, latencyMs: 1 } }, { token: tenant.apiKey });
          await new Promise((r) => setTimeout(r, 300));
          return (await response.textContent())?.includes(model);
        },
        'the subscription event in the IDE',
        20_000,
      );
      await shoot(page, '12-ide-subscription');
      await page.getByRole('button', { name: /Stop query/ }).click();
      expect(offMachine).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('is not served to a request for data, and the main router gives no key to a page outside development', async () => {
    const json = await fetch(`http://127.0.0.1:${router.port}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'text/html, application/json' },
    });
    expect(json.headers.get('content-type')).toContain('json');
    const page = await fetch(stack.routerUrl, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('mw-ide-config');
    expect(html).not.toContain('mw_sk_');
  });
});
