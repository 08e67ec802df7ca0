-- Runs with search_path set to the analytics schema.
-- Month-to-date totals per organization, kept by the statement that inserts events (only newly
-- inserted event ids count), copied to Redis after each batch (@mindweave/usage-totals).
CREATE TABLE usage_months (
  "organizationId" uuid NOT NULL,
  "month" text NOT NULL,
  "tokens" bigint NOT NULL,
  "microUsd" bigint NOT NULL,
  PRIMARY KEY ("organizationId", "month")
);

INSERT INTO usage_months ("organizationId", "month", "tokens", "microUsd")
SELECT "organizationId", to_char("occurredAt", 'YYYY-MM'), sum("inputTokens" + "outputTokens"), sum(round("costUsd" * 1000000)::bigint)
FROM usage_events GROUP BY 1, 2;
