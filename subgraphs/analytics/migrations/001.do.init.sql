-- Runs with search_path set to the analytics schema.
CREATE TABLE usage_events (
  "id" uuid PRIMARY KEY,
  "organizationId" uuid NOT NULL,
  "projectId" uuid NOT NULL,
  "apiKeyId" uuid NOT NULL,
  "model" text NOT NULL,
  "inputTokens" integer NOT NULL,
  "outputTokens" integer NOT NULL,
  "latencyMs" integer NOT NULL,
  "costUsd" double precision NOT NULL,
  "unpricedModel" boolean NOT NULL,
  "occurredAt" timestamp(3) NOT NULL,
  "recordedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "metadata" jsonb
);
CREATE INDEX usage_events_organization_time_idx ON usage_events ("organizationId", "occurredAt");
-- Rows arrive roughly in time order: a BRIN index serves time-range scans (exports, cleanup) at a tiny size.
CREATE INDEX usage_events_time_brin ON usage_events USING brin ("occurredAt");

CREATE TABLE usage_minutes (
  "organizationId" uuid NOT NULL,
  "projectId" uuid NOT NULL,
  "model" text NOT NULL,
  "bucket" timestamp(3) NOT NULL,
  "requests" bigint NOT NULL,
  "inputTokens" bigint NOT NULL,
  "outputTokens" bigint NOT NULL,
  "costUsd" double precision NOT NULL,
  PRIMARY KEY ("organizationId", "bucket", "projectId", "model")
);
