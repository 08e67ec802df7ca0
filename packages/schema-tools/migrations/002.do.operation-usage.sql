-- Operation usage reported by the routers (router/usage-reporting.ts through the event log),
-- written by packages/schema-tools/usage.ts and read by `schema check`, `schema unused` and the
-- analytics subgraph's schema usage fields. Kept OPERATION_USAGE_RETENTION_DAYS (30).

-- Each operation once, with the schema coordinates it uses.
CREATE TABLE schema_registry.operations (
  hash text NOT NULL,                  -- sha256 (hex) of the document
  name text NOT NULL,                  -- the operation's name, '' when anonymous
  type text NOT NULL,                  -- query, mutation or subscription
  coordinates text[] NOT NULL,         -- Type, Type.field, Type.field.argument, Enum.VALUE
  first_seen timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz NOT NULL,
  PRIMARY KEY (hash, name)
);
CREATE INDEX operations_coordinates ON schema_registry.operations USING gin (coordinates);
CREATE INDEX operations_last_seen ON schema_registry.operations (last_seen);

-- One row per report (one router, one interval), operation and client: a redelivered report adds nothing.
CREATE TABLE schema_registry.operation_usage (
  report_id text NOT NULL,
  minute timestamptz NOT NULL,         -- the start of the report's interval, to the minute
  operation_hash text NOT NULL,
  operation_name text NOT NULL,
  client_name text NOT NULL,           -- '' when the client sent none
  client_version text NOT NULL,
  requests bigint NOT NULL,
  errors bigint NOT NULL,
  latency bigint[] NOT NULL,           -- counts per bucket of latency_buckets_ms
  latency_buckets_ms real[] NOT NULL,
  PRIMARY KEY (report_id, operation_hash, operation_name, client_name, client_version)
);
CREATE INDEX operation_usage_minute ON schema_registry.operation_usage (minute);
CREATE INDEX operation_usage_operation ON schema_registry.operation_usage (operation_hash, operation_name, minute);
