import { rollUpDay, summarizeHour } from '@mindweave/analytics/rollups.ts';
import type { Sql } from '@mindweave/analytics/billing.ts';
import type { Processors } from '@mindweave/jobs';
import type { Logger } from '@mindweave/service-kit';

const yesterday = (now = new Date()) => new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10);
const previousHour = (now = new Date()) => new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 3_600_000);

/** The daily roll-up of usage into per-day totals, and the hourly summary for operators. */
export function aggregationProcessors(deps: { db: Sql; log: Logger }): Pick<Processors<'analytics'>, 'daily-aggregation' | 'hourly-summary'> {
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
  };
}
