#!/usr/bin/env bash
# The test command: type-check, check the committed schema, then every vitest project against the
# real PostgreSQL and Redis (a fresh database per run, dropped afterwards), then the fault suite
# against a Redis and a PostgreSQL of its own. Arguments go to vitest, and then the fault suite is
# left out (`npm test -- e2e/usage.e2e.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm run --silent typecheck
pnpm run --silent schema check
pnpm exec vitest run "$@"
if [ "$#" -eq 0 ]; then
  pnpm run --silent test:faults
fi
