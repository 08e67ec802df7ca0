import { closeBillingMonth, previousMonth, type Sql } from '@mindweave/analytics/billing.ts';
import type { Processors } from '@mindweave/jobs';
import type { Logger } from '@mindweave/service-kit';

/** Monthly billing: the previous month's usage cost of each organization becomes its invoice (analytics' billing.ts). */
export function billingProcessors(deps: { db: Sql; log: Logger }): Pick<Processors<'analytics'>, 'monthly-billing'> {
  return {
    'monthly-billing': async (data) => {
      const result = await closeBillingMonth(deps.db, data.month ?? previousMonth());
      deps.log.info(result, 'billing month closed');
      return result;
    },
  };
}
