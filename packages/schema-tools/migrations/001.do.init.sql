-- The schema registry: every published supergraph, newest last. Routers read the latest version.
CREATE TABLE schema_registry.versions (
  id serial PRIMARY KEY,
  hash text NOT NULL UNIQUE,          -- sha256 (hex) of the supergraph SDL
  supergraph text NOT NULL,
  subgraphs jsonb NOT NULL,           -- { "<subgraph name>": "<SDL>" }
  author text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  changes jsonb NOT NULL              -- the diff against the previous version, [] for the first
);
