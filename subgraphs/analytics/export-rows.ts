import { streamOrganizationRows, type RowSource } from '@mindweave/subgraph-kit/export-rows';

/** An organization's usage events of a period, for its exports (every column but the organization's, in time order). */
export const usageEventRows: RowSource = (db, query) =>
  streamOrganizationRows(db, { schema: 'analytics', table: 'usage_events', timeColumn: 'occurredAt' }, query);
