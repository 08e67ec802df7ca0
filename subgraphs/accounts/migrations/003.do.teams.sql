-- Runs with search_path set to the accounts schema.
-- Teams: soft deletion of organizations and projects, key expiry and rotation, invitations, the
-- organization's audit trail, and an outbox for the events every router acts on.
ALTER TABLE organizations ADD COLUMN "deletedAt" timestamp(3), ADD COLUMN "usagePurgedAt" timestamp(3);
-- The purge job looks for organizations deleted long enough ago whose usage is still there.
CREATE INDEX organizations_deleted_idx ON organizations ("deletedAt") WHERE "deletedAt" IS NOT NULL AND "usagePurgedAt" IS NULL;

ALTER TABLE projects ADD COLUMN "deletedAt" timestamp(3);

ALTER TABLE api_keys
  ADD COLUMN "expiresAt" timestamp(3),
  ADD COLUMN "previousKeyHash" text UNIQUE,
  ADD COLUMN "previousKeyExpiresAt" timestamp(3),
  ADD COLUMN "rotatedAt" timestamp(3);

CREATE TABLE invitations (
  "id" uuid PRIMARY KEY,
  "organizationId" uuid NOT NULL REFERENCES organizations ("id") ON DELETE CASCADE,
  "email" text NOT NULL,
  "role" "MemberRole" NOT NULL,
  "tokenHash" text NOT NULL UNIQUE,
  "invitedById" uuid NOT NULL,
  "expiresAt" timestamp(3) NOT NULL,
  "acceptedAt" timestamp(3),
  "acceptedById" uuid,
  "revokedAt" timestamp(3),
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX invitations_organization_idx ON invitations ("organizationId", "createdAt");

CREATE TYPE "AuditAction" AS ENUM (
  'ORGANIZATION_CREATED', 'ORGANIZATION_RENAMED', 'ORGANIZATION_DELETED',
  'MEMBER_INVITED', 'INVITATION_REVOKED', 'INVITATION_ACCEPTED',
  'MEMBER_ADDED', 'MEMBER_ROLE_CHANGED', 'MEMBER_REMOVED', 'MEMBER_LEFT',
  'PROJECT_CREATED', 'PROJECT_DELETED',
  'API_KEY_CREATED', 'API_KEY_ROTATED', 'API_KEY_REVOKED'
);

CREATE TABLE audit_entries (
  "id" uuid PRIMARY KEY,
  "organizationId" uuid NOT NULL REFERENCES organizations ("id") ON DELETE CASCADE,
  "action" "AuditAction" NOT NULL,
  "actorUserId" uuid NOT NULL,
  "targetUserId" uuid,
  "targetId" text,
  "details" jsonb,
  "requestId" text,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
-- Pages of one organization's trail, newest first.
CREATE INDEX audit_entries_organization_idx ON audit_entries ("organizationId", "createdAt", "id");

CREATE TABLE outbox_events (
  "id" uuid PRIMARY KEY,
  "type" text NOT NULL,
  "aggregateId" text NOT NULL,
  "payload" jsonb NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "publishedAt" timestamp(3)
);
CREATE INDEX outbox_events_unpublished_idx ON outbox_events ("publishedAt", "createdAt");
