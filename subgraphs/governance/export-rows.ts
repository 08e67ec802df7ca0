import { streamOrganizationRows, type RowSource } from '@mindweave/subgraph-kit/export-rows';

/** An organization's audit log of a period, for its exports (an empty file while the table does not exist). */
export const auditEntryRows: RowSource = (db, query) =>
  streamOrganizationRows(db, { schema: 'governance', table: 'audit_entries', timeColumn: 'createdAt' }, query);
