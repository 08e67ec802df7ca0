import type { Context, Span } from '@opentelemetry/api';
import type { Identity, Logger } from '@mindweave/service-kit';
import type { AnalyzedOperation } from './operation.ts';

/** What the edge learned of one operation before execution, for the response and the log line. */
export interface EdgeInfo {
  operation: AnalyzedOperation;
  /** sha256 (hex) of the document as the client sent it (a persisted one's manifest hash). */
  operationHash: string;
  estimatedCost: number;
  includeCost: boolean;
  denied: { path: string[] }[];
  /** Nothing was left to run after authorization. */
  empty: boolean;
  actualCost?: number;
}

export interface RouterContext {
  identity: Identity;
  requestId: string;
  log: Logger;
  /** By the query text sent to Apollo Server (batches hold several). */
  edge: Map<string, EdgeInfo>;
  subgraphTimings: { subgraph: string; durationMs: number }[];
  /** The identity as subgraph requests carry it, encoded on the operation's first fetch (each fetch signs its own body). */
  encodedIdentity?: string;
  /**
   * A mutation fetch of the operation may have been carried out: it reached its subgraph and was not
   * refused outright, or failed after it may have been received. Its errors can no longer say that
   * nothing was decided (unavailable.ts). Each operation of a batch has its own copy of the context.
   */
  mutationMayHaveRun?: boolean;
  /** The operation's span, when tracing is on (tracing.ts). */
  span?: Span;
  /** The context holding that span, the parent of the plan's and the fetches' spans (passed explicitly: the router has no active context). */
  traceContext?: Context;
}
