import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const sdkSource = fileURLToPath(new URL('../../packages/sdk/src/index.ts', import.meta.url));

// Run on its own (`pnpm --filter @mindweave/dashboard dev` or `preview`), the app asks its own origin
// for /graphql and /exports, which these servers pass on to the router at MINDWEAVE_ROUTER_URL.
const routerUrl = process.env['MINDWEAVE_ROUTER_URL'] ?? 'http://localhost:4000';
const proxy = {
  '/graphql': { target: routerUrl, ws: true, changeOrigin: true },
  '/exports': { target: routerUrl, changeOrigin: true },
};

export default defineConfig({
  // The router serves the build at /dashboard/; DASHBOARD_BASE builds it for another path.
  base: process.env['DASHBOARD_BASE'] ?? '/dashboard/',
  plugins: [react()],
  // The SDK as source, like every workspace package in development (its dist/ is built for publishing only).
  resolve: { alias: { '@mindweave/sdk': sdkSource } },
  build: {
    rollupOptions: {
      input: { dashboard: 'index.html', ide: 'ide.html' },
      // GraphiQL's modules start with "use no memo" (React Compiler), which a bundle cannot keep and need not.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
    chunkSizeWarningLimit: 4_000,
  },
  server: { proxy },
  preview: { proxy },
});
