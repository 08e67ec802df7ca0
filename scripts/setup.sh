#!/usr/bin/env bash
# Installs what the start and test commands need: pnpm (pinned in package.json), the locked
# dependencies, the generated Prisma clients, and the dashboard's build.
set -euo pipefail
cd "$(dirname "$0")/.."
pnpm_version=$(node -p "require('./package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null)" != "$pnpm_version" ]; then
  echo "Installing pnpm $pnpm_version"
  npm install -g "pnpm@$pnpm_version" >/dev/null
fi
pnpm install --frozen-lockfile --prefer-offline
pnpm run --silent generate >/dev/null

# The dashboard and the GraphQL IDE (apps/dashboard, served by the router at /dashboard and /graphql):
# built again whenever what goes into the build changed, which takes a few seconds and downloads nothing.
dashboard_inputs() {
  find apps/dashboard/src apps/dashboard/index.html apps/dashboard/ide.html apps/dashboard/vite.config.ts apps/dashboard/package.json \
    packages/sdk/src packages/sdk/persisted-documents.json pnpm-lock.yaml -type f -not -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum
  echo "${DASHBOARD_BASE:-} ${VITE_MINDWEAVE_GRAPHQL_URL:-}"
}
stamp=$(dashboard_inputs | sha256sum | cut -d' ' -f1)
if [ "$(cat apps/dashboard/dist/.stamp 2>/dev/null)" != "$stamp" ]; then
  echo "Building the dashboard"
  pnpm --filter @mindweave/dashboard exec vite build --logLevel warn
  echo "$stamp" > apps/dashboard/dist/.stamp
fi
