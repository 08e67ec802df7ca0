#!/usr/bin/env bash
# The start command: install, migrate (each service at start-up), seed, and run everything: from the
# TypeScript source in development, from the build (compiled first) with NODE_ENV=production.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${NODE_ENV:-development}" = "production" ]; then
  pnpm run --silent build
fi
exec node --conditions=development --import tsx scripts/start.ts
