import { describe, expect, it } from 'vitest';
import { recordDemoUsage } from '../scripts/demo-usage.ts';
import { createTenant, stack } from './client.ts';

// The start command's demo usage (scripts/demo-usage.ts), recorded through the router; the browser
// tests (dashboard.e2e.ts) seed with it too, and check that the dashboard shows all of it.
describe('the demo usage', () => {
  it('records a few days of usage once: starting again adds only the hours that are new', async () => {
    const tenant = await createTenant();
    const anHourAgo = Date.now() - 3_600_000;
    const first = await recordDemoUsage({ url: stack.routerUrl, apiKey: tenant.apiKey, days: 2, now: anHourAgo });
    expect(first.events).toBeGreaterThan(48);
    expect(first).toMatchObject({ accepted: first.events, duplicates: 0 });

    const again = await recordDemoUsage({ url: stack.routerUrl, apiKey: tenant.apiKey, days: 2, now: anHourAgo });
    expect(again).toMatchObject({ events: first.events, tokens: first.tokens, accepted: 0, duplicates: first.events });

    // An hour later the window has moved by an hour: only that hour's events are new.
    const later = await recordDemoUsage({ url: stack.routerUrl, apiKey: tenant.apiKey, days: 2 });
    expect(later.accepted).toBeGreaterThan(0);
    expect(later.accepted).toBeLessThan(20);
    expect(later.accepted + later.duplicates).toBe(later.events);
  });
});
