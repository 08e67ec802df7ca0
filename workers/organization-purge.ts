import { deleteOrganizationUsage } from '@mindweave/analytics/retention.ts';
import type { Sql } from '@mindweave/analytics/billing.ts';
import type { Processors } from '@mindweave/jobs';
import type { Logger } from '@mindweave/service-kit';
import type { Directory } from './directory.ts';

/**
 * Removes the usage data of organizations deleted more than `retentionDays` ago: accounts (which
 * owns organizations) says which, analytics (which owns usage) deletes it, then accounts marks them
 * purged. An organization that fails is left for the next run; the others go on.
 */
export function organizationPurgeProcessors(deps: { db: Sql; directory: Directory; retentionDays: number; log: Logger }): Pick<Processors<'analytics'>, 'organization-purge'> {
  return {
    'organization-purge': async (data) => {
      const retentionDays = data.retentionDays ?? deps.retentionDays;
      const before = new Date(Date.now() - retentionDays * 86_400_000);
      const purged: string[] = [];
      const failed: string[] = [];
      for (const organizationId of await deps.directory.deletedOrganizations(before)) {
        try {
          const deleted = await deleteOrganizationUsage(deps.db, organizationId);
          deps.log.info({ organizationId, ...deleted }, "a deleted organization's usage data was removed");
          purged.push(organizationId);
        } catch (error) {
          deps.log.error({ err: error, organizationId }, "a deleted organization's usage data could not be removed; the next run tries again");
          failed.push(organizationId);
        }
      }
      await deps.directory.markPurged(purged);
      return { retentionDays, purged, failed };
    },
  };
}
