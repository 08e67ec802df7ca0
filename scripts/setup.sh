#!/usr/bin/env bash
# Installs what the start and test commands need: pnpm (pinned in package.json), the locked
# dependencies, and the generated Prisma clients.
set -euo pipefail
cd "$(dirname "$0")/.."
pnpm_version=$(node -p "require('./package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null)" != "$pnpm_version" ]; then
  echo "Installing pnpm $pnpm_version"
  npm install -g "pnpm@$pnpm_version" >/dev/null
fi
pnpm install --frozen-lockfile --prefer-offline
pnpm run --silent generate >/dev/null
