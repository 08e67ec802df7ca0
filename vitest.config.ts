import { defineConfig } from 'vitest/config';

// `unit`: in-process, no services. `system`: integration tests beside each service (*.int.test.ts)
// and end-to-end tests through the router (e2e/*.e2e.ts), against one stack booted for the run.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{packages,subgraphs,router,scripts}/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/*.int.test.ts'],
        },
      },
      {
        test: {
          name: 'system',
          include: ['{packages,subgraphs,router}/**/*.int.test.ts', 'e2e/**/*.e2e.ts'],
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
