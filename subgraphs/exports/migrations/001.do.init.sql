-- Runs with search_path set to the exports schema.
CREATE TYPE "ExportType" AS ENUM ('USAGE', 'AUDIT');
CREATE TYPE "ExportFormat" AS ENUM ('CSV', 'JSON');
CREATE TYPE "ExportStatus" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED');

CREATE TABLE export_jobs (
  "id" uuid PRIMARY KEY,
  "organizationId" uuid NOT NULL,
  "requestedBy" uuid NOT NULL,
  "type" "ExportType" NOT NULL,
  "format" "ExportFormat" NOT NULL,
  "from" timestamp(3) NOT NULL,
  "to" timestamp(3) NOT NULL,
  "status" "ExportStatus" NOT NULL DEFAULT 'QUEUED',
  "rowsWritten" integer NOT NULL DEFAULT 0,
  "bytes" bigint NOT NULL DEFAULT 0,
  "fileKey" text,
  "error" text,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "startedAt" timestamp(3),
  "finishedAt" timestamp(3)
);
CREATE INDEX export_jobs_organization_idx ON export_jobs ("organizationId", "createdAt");

CREATE TABLE outbox_events (
  "id" uuid PRIMARY KEY,
  "type" text NOT NULL,
  "aggregateId" text NOT NULL,
  "payload" jsonb NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "publishedAt" timestamp(3)
);
CREATE INDEX outbox_events_unpublished_idx ON outbox_events ("publishedAt", "createdAt");
