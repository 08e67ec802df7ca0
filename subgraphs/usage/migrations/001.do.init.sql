-- Runs with search_path set to the usage schema.
CREATE TABLE model_prices (
  "model" text PRIMARY KEY,
  "inputUsdPerMillion" numeric(12, 6) NOT NULL CHECK ("inputUsdPerMillion" >= 0),
  "outputUsdPerMillion" numeric(12, 6) NOT NULL CHECK ("outputUsdPerMillion" >= 0),
  "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- List prices at the time of writing; operators keep them current.
INSERT INTO model_prices ("model", "inputUsdPerMillion", "outputUsdPerMillion") VALUES
  ('gpt-4o', 2.50, 10.00),
  ('gpt-4o-mini', 0.15, 0.60),
  ('gpt-4.1', 2.00, 8.00),
  ('gpt-4.1-mini', 0.40, 1.60),
  ('o3-mini', 1.10, 4.40),
  ('claude-3-5-sonnet', 3.00, 15.00),
  ('claude-3-5-haiku', 0.80, 4.00),
  ('claude-3-opus', 15.00, 75.00),
  ('gemini-1.5-pro', 1.25, 5.00),
  ('gemini-1.5-flash', 0.075, 0.30),
  ('llama-3.1-70b', 0.88, 0.88),
  ('mistral-large', 2.00, 6.00);
