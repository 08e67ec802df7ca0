-- Runs with search_path set to the identity schema.
CREATE TYPE "UserTokenPurpose" AS ENUM ('EMAIL_VERIFICATION', 'PASSWORD_RESET', 'MFA_LOGIN');

CREATE TABLE users (
  "id" uuid PRIMARY KEY,
  "email" text NOT NULL UNIQUE,
  "name" text NOT NULL,
  "passwordHash" text NOT NULL,
  "emailVerifiedAt" timestamp(3),
  "mfaSecret" text,
  "mfaEnabledAt" timestamp(3),
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" timestamp(3) NOT NULL
);

CREATE TABLE refresh_tokens (
  "id" uuid PRIMARY KEY,
  "userId" uuid NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
  "familyId" uuid NOT NULL,
  "tokenHash" text NOT NULL UNIQUE,
  "expiresAt" timestamp(3) NOT NULL,
  "usedAt" timestamp(3),
  "revokedAt" timestamp(3),
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens ("familyId");
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens ("userId");

CREATE TABLE user_tokens (
  "id" uuid PRIMARY KEY,
  "userId" uuid NOT NULL REFERENCES users ("id") ON DELETE CASCADE,
  "purpose" "UserTokenPurpose" NOT NULL,
  "tokenHash" text NOT NULL UNIQUE,
  "expiresAt" timestamp(3) NOT NULL,
  "usedAt" timestamp(3),
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX user_tokens_user_purpose_idx ON user_tokens ("userId", "purpose");

CREATE TABLE signing_keys (
  "kid" text PRIMARY KEY,
  "privateJwk" jsonb NOT NULL,
  "publicJwk" jsonb NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
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
