-- Runs with search_path set to the accounts schema.
CREATE TYPE "MemberRole" AS ENUM ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER');

CREATE TABLE organizations (
  "id" uuid PRIMARY KEY,
  "name" text NOT NULL,
  "slug" text NOT NULL UNIQUE,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE memberships (
  "id" uuid PRIMARY KEY,
  "organizationId" uuid NOT NULL REFERENCES organizations ("id") ON DELETE CASCADE,
  "userId" uuid NOT NULL,
  "role" "MemberRole" NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE ("organizationId", "userId")
);
CREATE INDEX memberships_user_idx ON memberships ("userId");

CREATE TABLE projects (
  "id" uuid PRIMARY KEY,
  "organizationId" uuid NOT NULL REFERENCES organizations ("id") ON DELETE CASCADE,
  "name" text NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX projects_organization_idx ON projects ("organizationId");

CREATE TABLE api_keys (
  "id" uuid PRIMARY KEY,
  "projectId" uuid NOT NULL REFERENCES projects ("id") ON DELETE CASCADE,
  "name" text NOT NULL,
  "prefix" text NOT NULL,
  "keyHash" text NOT NULL UNIQUE,
  "scopes" text[] NOT NULL DEFAULT '{}',
  "createdById" uuid NOT NULL,
  "lastUsedAt" timestamp(3),
  "revokedAt" timestamp(3),
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX api_keys_project_idx ON api_keys ("projectId");
