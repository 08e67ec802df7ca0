#!/usr/bin/env bash
# The test command: type-check, lint (and check the formatting), check the committed schema, build and package the services as the
# container images do, then every vitest project against the real PostgreSQL and Redis (a fresh
# database per run, dropped afterwards) with the services running from the build, as in production,
# then the fault suite against a Redis and a PostgreSQL of its own. Arguments go to vitest, and then
# the fault suite is left out (`npm test -- e2e/usage.e2e.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm run --silent typecheck
pnpm run --silent lint
pnpm run --silent schema check
# The container images' steps (Dockerfile), which build everything, then each service packaged
# alone, outside this checkout so that nothing resolves through its node_modules:
# e2e/image.e2e.ts runs the stack from there.
MW_IMAGE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mindweave-image-XXXXXX")
export MW_IMAGE_DIR
trap 'rm -rf "$MW_IMAGE_DIR"' EXIT
bash scripts/image.sh "$MW_IMAGE_DIR"
export MW_RUN_FROM=build
pnpm exec vitest run "$@"
if [ "$#" -eq 0 ]; then
  pnpm run --silent test:faults
fi
