#!/usr/bin/env bash
# The steps of the container images' build (Dockerfile), in a script of their own so that the test
# command runs them too and the images cannot rot unseen where no Docker engine runs: install, build,
# then each service package with only its production dependencies (`pnpm deploy`) in the
# repository's layout under <out>, with the files the services read beside them (the supergraph,
# the trusted documents, the dashboard). `node <out>/router/dist/main.js` then runs with nothing else.
#   scripts/image.sh <out> [package...]   packages: router, workers, subgraphs/<name>; default all
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-.mindweave/image}")
shift || true
packages=("$@")
if [ "${#packages[@]}" -eq 0 ]; then packages=(router workers subgraphs/*); fi

pnpm install --frozen-lockfile --prefer-offline
pnpm run --silent generate >/dev/null
pnpm run --silent build
pnpm --filter @mindweave/dashboard exec vite build --logLevel warn

rm -rf "$out"
mkdir -p "$out"
for package in "${packages[@]}"; do
  # --legacy: the workspace links its packages (no injected copies), which the newer deploy requires.
  pnpm --filter "./$package" --prod --prefer-offline deploy --legacy "$out/$package" >/dev/null
  # @prisma/client comes resolved with its optional peers, the prisma CLI and TypeScript (the
  # workspace has both, for `prisma generate`), and with them Prisma Studio and an embedded
  # PostgreSQL: about 200 MB that nothing runs in production. The clients are generated already.
  # e2e/image.e2e.ts runs the whole stack from what is left.
  (cd "$out/$package/node_modules/.pnpm" && rm -rf prisma@* @prisma+studio-core@* @prisma+dev@* @electric-sql+pglite@* effect@* typescript@*)
done
install -D -m 644 schema/supergraph.graphql "$out/schema/supergraph.graphql"
install -D -m 644 packages/sdk/persisted-documents.json "$out/packages/sdk/persisted-documents.json"
mkdir -p "$out/apps/dashboard"
cp -r apps/dashboard/dist "$out/apps/dashboard/dist"
echo "image contents in $out: $(du -sh "$out" | cut -f1)"
