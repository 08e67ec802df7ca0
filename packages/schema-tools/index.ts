export { apiSchemaOf, compose, printSubgraph, readSupergraphConfig, type Composition, type SubgraphConfig } from './compose.ts';
export {
  changeId,
  checkSchema,
  diffSupergraphs,
  formatCheckReport,
  manifestUsage,
  parseApprovals,
  resolveBaseline,
  type Approval,
  type Approvals,
  type Baseline,
  type CheckReport,
  type CheckedChange,
  type SchemaChange,
} from './check.ts';
export { publishChannel, publishSupergraph, type PublishInput, type PublishResult } from './publish.ts';
export { latestPublishedVersion, latestSupergraph, type PublishedVersion } from './registry.ts';
