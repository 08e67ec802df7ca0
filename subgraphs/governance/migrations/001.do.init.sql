-- Runs with search_path set to the governance schema.
CREATE TYPE "PolicyType" AS ENUM ('MODEL_ALLOWLIST', 'MODEL_DENYLIST', 'SPEND_LIMIT', 'TOKEN_LIMIT');

CREATE TABLE policies (
  "id" uuid PRIMARY KEY,
  "organizationId" uuid NOT NULL,
  "name" text NOT NULL,
  "type" "PolicyType" NOT NULL,
  "rules" jsonb NOT NULL,
  "enabled" boolean NOT NULL DEFAULT true,
  "enforcing" boolean NOT NULL DEFAULT true,
  "createdById" uuid NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE ("organizationId", "name")
);
CREATE INDEX policies_organization_idx ON policies ("organizationId", "createdAt");

CREATE TYPE "AuditKind" AS ENUM ('POLICY_CREATED', 'POLICY_UPDATED', 'POLICY_DELETED', 'POLICY_VIOLATED');

CREATE TABLE audit_entries (
  "id" uuid PRIMARY KEY,
  "organizationId" uuid NOT NULL,
  "kind" "AuditKind" NOT NULL,
  "policyId" text NOT NULL,
  "policyName" text NOT NULL,
  "actorUserId" uuid,
  "before" jsonb,
  "after" jsonb,
  "reason" text,
  "model" text,
  "eventId" text UNIQUE,
  "requestId" text,
  "occurredAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
-- Pages of one organization's log, newest first, with or without a kind.
CREATE INDEX audit_entries_organization_idx ON audit_entries ("organizationId", "createdAt", "id");
CREATE INDEX audit_entries_organization_kind_idx ON audit_entries ("organizationId", "kind", "createdAt", "id");
-- Rows arrive in time order: a BRIN index serves the retention clean-up at a tiny size.
CREATE INDEX audit_entries_time_brin ON audit_entries USING brin ("createdAt");

CREATE TABLE outbox_events (
  "id" uuid PRIMARY KEY,
  "type" text NOT NULL,
  "aggregateId" text NOT NULL,
  "payload" jsonb NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "publishedAt" timestamp(3)
);
CREATE INDEX outbox_events_unpublished_idx ON outbox_events ("publishedAt", "createdAt");
