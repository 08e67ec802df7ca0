import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// Vite would resolve `graphql` in our sources to its ESM build while the libraries that take
// schemas from us (@graphql-inspector/core, @apollo/federation-internals...) load the CommonJS
// one, and graphql-js refuses objects of the other instance. Node and tsx resolve the CommonJS one.
// The SDK as source, as the dashboard (apps/dashboard) builds it: its dist/ is built only for publishing.
const resolve = {
  alias: [
    { find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') },
    { find: /^@mindweave\/sdk$/, replacement: new URL('./packages/sdk/src/index.ts', import.meta.url).pathname },
  ],
};

// `unit`: in-process, no services. `system`: integration tests beside each service (*.int.test.ts)
// and end-to-end tests through the router (e2e/*.e2e.ts), against one stack booted for the run.
export default defineConfig({
  test: {
    projects: [
      {
        resolve,
        test: {
          name: 'unit',
          include: ['{apps,packages,subgraphs,router,workers,scripts,deploy,faults}/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/*.int.test.ts'],
        },
      },
      {
        resolve,
        test: {
          name: 'system',
          include: ['{packages,subgraphs,router,workers}/**/*.int.test.ts', 'e2e/**/*.e2e.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['e2e/global-setup.ts'],
          setupFiles: ['e2e/setup-env.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
