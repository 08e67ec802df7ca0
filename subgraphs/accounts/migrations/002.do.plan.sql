-- Runs with search_path set to the accounts schema.
CREATE TYPE "Plan" AS ENUM ('FREE', 'PRO', 'ENTERPRISE');
ALTER TABLE organizations ADD COLUMN "plan" "Plan" NOT NULL DEFAULT 'FREE';
