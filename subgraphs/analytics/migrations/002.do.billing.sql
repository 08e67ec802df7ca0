-- Runs with search_path set to the analytics schema.
CREATE TABLE usage_days (
  "organizationId" uuid NOT NULL,
  "day" date NOT NULL,
  "requests" bigint NOT NULL,
  "inputTokens" bigint NOT NULL,
  "outputTokens" bigint NOT NULL,
  "costUsd" double precision NOT NULL,
  PRIMARY KEY ("organizationId", "day")
);

CREATE TABLE invoices (
  "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  "organizationId" uuid NOT NULL,
  "month" text NOT NULL,
  "periodStart" timestamp(3) NOT NULL,
  "periodEnd" timestamp(3) NOT NULL,
  "requests" bigint NOT NULL,
  "inputTokens" bigint NOT NULL,
  "outputTokens" bigint NOT NULL,
  "costUsd" double precision NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  -- Closing a month twice creates nothing the second time (ON CONFLICT DO NOTHING).
  UNIQUE ("organizationId", "month")
);
