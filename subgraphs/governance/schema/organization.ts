import { builder } from '../builder.ts';

// Organizations belong to the accounts subgraph; this one adds their policies (`policies`, in
// policy.ts) and the audit log of them (`policyAuditLog`, in audit-entry.ts).
export const Organization = builder.externalRef('Organization', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ id: t.id() }),
  fields: () => ({}),
});
