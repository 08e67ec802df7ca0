-- Runs with search_path set to the webhooks schema.
CREATE TABLE webhook_endpoints (
  "id" uuid PRIMARY KEY,
  "organizationId" uuid NOT NULL,
  "url" text NOT NULL,
  "description" text,
  "eventTypes" text[] NOT NULL,
  "secret" text NOT NULL,
  "enabled" boolean NOT NULL DEFAULT true,
  "consecutiveFailures" integer NOT NULL DEFAULT 0,
  "disabledAt" timestamp(3),
  "disabledReason" text,
  "createdById" uuid NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX webhook_endpoints_organization_idx ON webhook_endpoints ("organizationId", "createdAt");

CREATE TYPE "DeliveryStatus" AS ENUM ('SUCCEEDED', 'FAILED');

CREATE TABLE webhook_deliveries (
  "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  "endpointId" uuid NOT NULL REFERENCES webhook_endpoints ("id") ON DELETE CASCADE,
  "eventId" text NOT NULL,
  "eventType" text NOT NULL,
  "attempt" integer NOT NULL,
  "status" "DeliveryStatus" NOT NULL,
  "httpStatus" integer,
  "latencyMs" integer NOT NULL,
  "responseExcerpt" text,
  "error" text,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
-- An endpoint's delivery log, newest first (keyset pages).
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries ("endpointId", "createdAt" DESC, "id" DESC);
