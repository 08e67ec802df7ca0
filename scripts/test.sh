#!/usr/bin/env bash
# The test command: type-check, check the committed schema, build, then every vitest project against
# the real PostgreSQL and Redis (a fresh database per run, dropped afterwards) with the services
# running from the build, as in production, then the fault suite against a Redis and a PostgreSQL of
# its own. Arguments go to vitest, and then the fault suite is left out (`npm test -- e2e/usage.e2e.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm run --silent typecheck
pnpm run --silent schema check
pnpm run --silent build
export MW_RUN_FROM=build
pnpm exec vitest run "$@"
if [ "$#" -eq 0 ]; then
  pnpm run --silent test:faults
fi
