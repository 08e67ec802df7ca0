import type { Processors } from '@mindweave/jobs';
import type { Logger } from '@mindweave/service-kit';
import type { Sql } from '@mindweave/subgraph-kit';
import { closeBillingMonth, previousMonth } from './billing.ts';
import { deleteOrganizationUsage } from './retention.ts';
import { rollUpDay, summarizeHour } from './rollups.ts';

// The analytics queue's jobs on analytics' own tables, run by the workers (workers/main.ts wires
// them to the queue). Plain SQL on the pool the workers pass; nothing here reads the environment.

const yesterday = (now = new Date()) => new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10);
const previousHour = (now = new Date()) => new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 3_600_000);

/** The daily roll-up of usage into per-day totals, the hourly summary for operators, and monthly billing (each month's usage cost becomes its invoice). */
export function usageProcessors(deps: {
  db: Sql;
  log: Logger;
}): Pick<Processors<'analytics'>, 'daily-aggregation' | 'hourly-summary' | 'monthly-billing'> {
  return {
    'daily-aggregation': async (data) => {
      const result = await rollUpDay(deps.db, data.day ?? yesterday());
      deps.log.info(result, 'usage of the day rolled up');
      return result;
    },
    'hourly-summary': async (data) => {
      const summary = await summarizeHour(deps.db, data.hour ? new Date(data.hour) : previousHour());
      deps.log.info(summary, 'hourly usage summary');
      return summary;
    },
    'monthly-billing': async (data) => {
      const result = await closeBillingMonth(deps.db, data.month ?? previousMonth());
      deps.log.info(result, 'billing month closed');
      return result;
    },
  };
}

/** What the purge asks of accounts, which owns organizations (its internal routes). */
export interface DeletedOrganizations {
  /** Organizations deleted before `before` whose usage data is still kept. */
  deletedOrganizations(before: Date): Promise<string[]>;
  /** Tells accounts these organizations' usage data is gone. */
  markPurged(organizationIds: string[]): Promise<void>;
}

/**
 * Removes the usage data of organizations deleted more than `retentionDays` ago: accounts (which
 * owns organizations) says which, analytics (which owns usage) deletes it, then accounts marks them
 * purged. An organization that fails is left for the next run; the others go on.
 */
export function organizationPurgeProcessors(deps: {
  db: Sql;
  accounts: DeletedOrganizations;
  retentionDays: number;
  log: Logger;
}): Pick<Processors<'analytics'>, 'organization-purge'> {
  return {
    'organization-purge': async (data) => {
      const retentionDays = data.retentionDays ?? deps.retentionDays;
      const before = new Date(Date.now() - retentionDays * 86_400_000);
      const purged: string[] = [];
      const failed: string[] = [];
      for (const organizationId of await deps.accounts.deletedOrganizations(before)) {
        try {
          const deleted = await deleteOrganizationUsage(deps.db, organizationId);
          deps.log.info({ organizationId, ...deleted }, "a deleted organization's usage data was removed");
          purged.push(organizationId);
        } catch (error) {
          deps.log.error(
            { err: error, organizationId },
            "a deleted organization's usage data could not be removed; the next run tries again",
          );
          failed.push(organizationId);
        }
      }
      await deps.accounts.markPurged(purged);
      return { retentionDays, purged, failed };
    },
  };
}
