# syntax=docker/dockerfile:1.7
# One image per service package (router, workers, subgraphs/<name>): every stage but the last runs
# scripts/image.sh, the same steps the test command runs where no Docker engine is. Build with
#   docker build --build-arg PACKAGE=subgraphs/usage -t mindweave/usage .
# or `docker compose build`, which builds every one (compose.yaml).
ARG NODE_IMAGE=node:20.20-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN npm install -g pnpm@10.34.8
WORKDIR /src
# The lockfile alone fetches every dependency into pnpm's store: a layer cached while code changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY package.json ./
COPY packages packages
COPY subgraphs subgraphs
COPY router router
COPY workers workers
COPY apps apps
COPY schema schema
COPY scripts scripts
COPY tsconfig.base.json tsconfig.json supergraph.yaml ./
ARG PACKAGE=router
RUN bash scripts/image.sh /app "$PACKAGE"

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
ARG PACKAGE=router
ENV MINDWEAVE_PACKAGE=${PACKAGE}
# The package's main, with the tracing preload (off unless OTEL_EXPORTER_OTLP_ENDPOINT is set). `exec`
# makes node itself PID 1: it gets SIGTERM and the service stops cleanly (onShutdown). The consumers run
# another entry of their package: `node --import ... subgraphs/analytics/dist/consumer.js`.
CMD ["sh", "-c", "exec node --import \"./$MINDWEAVE_PACKAGE/node_modules/@mindweave/telemetry/dist/register.js\" \"$MINDWEAVE_PACKAGE/dist/main.js\""]
