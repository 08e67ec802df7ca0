#!/usr/bin/env bash
# The start command: install, migrate (each service at start-up), seed, and run everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx scripts/start.ts
