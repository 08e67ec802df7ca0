import { serverAudits } from 'graphql-http';
import { describe, expect, it } from 'vitest';
import { stack } from './client.ts';

// The GraphQL-over-HTTP specification's audit suite, run against the router.
describe('GraphQL over HTTP', () => {
  for (const audit of serverAudits({ url: stack.routerUrl })) {
    it(audit.name, async () => {
      const result = await audit.fn();
      // MUST requirements fail the test; SHOULD ones are reported as warnings by the suite.
      if (result.status === 'error') throw new Error(result.reason);
      expect(['ok', 'warn']).toContain(result.status);
    });
  }
});
