#!/usr/bin/env bash
# The test command: type-check, check the committed schema, then every vitest project against the
# real PostgreSQL and Redis (a fresh database per run, dropped afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm run --silent typecheck
pnpm run --silent schema check
exec pnpm exec vitest run "$@"
