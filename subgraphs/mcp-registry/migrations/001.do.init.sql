-- Runs with search_path set to the mcp_registry schema.
CREATE TYPE "Visibility" AS ENUM ('PUBLIC', 'PRIVATE');
CREATE TYPE "McpTransport" AS ENUM ('STDIO', 'SSE', 'STREAMABLE_HTTP');

-- The one definition of what search matches: the name weighs most (A), then the latest version's
-- tool names (B), then the description (C). Tool names are indexed as written and split into
-- words (`readFile`, `search_files`, `get.issue`), so either spelling finds them.
CREATE FUNCTION mcp_server_search_vector(name text, tool_names text, description text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT setweight(to_tsvector('english', name), 'A')
      || setweight(to_tsvector('english', tool_names || ' ' || regexp_replace(regexp_replace(tool_names, '([a-z0-9])([A-Z])', '\1 \2', 'g'), '[._]+', ' ', 'g')), 'B')
      || setweight(to_tsvector('english', description), 'C')
$$;

CREATE TABLE mcp_servers (
  "id" uuid PRIMARY KEY,
  "organizationId" uuid NOT NULL,
  "name" text NOT NULL,
  "slug" text NOT NULL UNIQUE,
  "description" text NOT NULL,
  "visibility" "Visibility" NOT NULL,
  "createdById" uuid NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "latestVersionId" uuid UNIQUE,
  "searchVector" tsvector
);
CREATE INDEX mcp_servers_organization_idx ON mcp_servers ("organizationId", "createdAt" DESC, "id" DESC);
CREATE INDEX mcp_servers_newest_idx ON mcp_servers ("createdAt" DESC, "id" DESC);
CREATE INDEX mcp_servers_search_idx ON mcp_servers USING GIN ("searchVector");

CREATE TABLE mcp_server_versions (
  "id" uuid PRIMARY KEY,
  "serverId" uuid NOT NULL REFERENCES mcp_servers ("id") ON DELETE CASCADE,
  "version" text NOT NULL,
  "transport" "McpTransport" NOT NULL,
  "publishedById" uuid NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "deprecatedAt" timestamp(3),
  "deprecationReason" text,
  UNIQUE ("serverId", "version")
);
ALTER TABLE mcp_servers ADD FOREIGN KEY ("latestVersionId") REFERENCES mcp_server_versions ("id") ON DELETE SET NULL;

CREATE TABLE mcp_tools (
  "id" uuid PRIMARY KEY,
  "versionId" uuid NOT NULL REFERENCES mcp_server_versions ("id") ON DELETE CASCADE,
  "position" integer NOT NULL,
  "name" text NOT NULL,
  "description" text NOT NULL,
  "inputSchema" jsonb NOT NULL,
  UNIQUE ("versionId", "position"),
  UNIQUE ("versionId", "name")
);

CREATE TABLE outbox_events (
  "id" uuid PRIMARY KEY,
  "type" text NOT NULL,
  "aggregateId" text NOT NULL,
  "payload" jsonb NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "publishedAt" timestamp(3)
);
CREATE INDEX outbox_events_unpublished_idx ON outbox_events ("publishedAt", "createdAt");
