import { builder } from '../builder.ts';

// Organizations belong to the accounts subgraph; this one adds the servers they publish
// (`mcpServers`, in mcp-server.ts beside the connection it returns).
export const Organization = builder.externalRef('Organization', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ id: t.id() }),
  fields: () => ({}),
});
