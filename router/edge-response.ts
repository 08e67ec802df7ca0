import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode } from '@mindweave/errors';
import type { Identity } from '@mindweave/service-kit';
import type { RouterContext } from './context.ts';
import { operationLabel, type Metrics } from './metrics.ts';
import { actualCost } from './operation.ts';
import type { SchemaIndex } from './schema-index.ts';

/**
 * How a field the caller may not see is reported: an anonymous caller lacks credentials
 * (UNAUTHENTICATED), an authenticated one the scope (FORBIDDEN), as the contract tells them apart.
 */
export function refusalOf(identity: Identity): { code: ErrorCode; message: string } {
  return identity.kind === 'anonymous'
    ? { code: ErrorCode.UNAUTHENTICATED, message: 'Sign in to see' }
    : { code: ErrorCode.FORBIDDEN, message: 'Not allowed to see' };
}

/** Puts null where a removed field would have been, under every list on the way. */
export function setNullAt(data: unknown, path: string[]) {
  if (data === null || typeof data !== 'object') return;
  if (Array.isArray(data)) {
    for (const item of data) setNullAt(item, path);
    return;
  }
  const [head, ...rest] = path;
  if (head === undefined) return;
  const record = data as Record<string, unknown>;
  if (rest.length === 0) {
    if (!(head in record)) record[head] = null;
    return;
  }
  setNullAt(record[head], rest);
}

/** After execution: report removed fields, attach the estimate, measure the actual cost. */
export function edgeResponsePlugin(options: {
  maxOperationCost: number;
  index: () => SchemaIndex | undefined;
  metrics: Pick<Metrics, 'estimatedCost' | 'actualCost'>;
}): ApolloServerPlugin<RouterContext> {
  const { maxOperationCost, index, metrics } = options;
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, request, response }) {
          const info = request.query ? contextValue.edge.get(request.query) : undefined;
          if (!info || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          if (info.empty) result.data = null;
          if (info.denied.length) {
            const { code, message } = refusalOf(contextValue.identity);
            const refused = info.denied.map((d) => ({ message: `${message} ${d.path.join('.')}`, path: d.path, extensions: { code } }));
            result.errors = [...(result.errors ?? []), ...refused];
            if (result.data) for (const d of info.denied) setNullAt(result.data, d.path);
          }
          if (info.includeCost)
            result.extensions = { ...result.extensions, cost: { estimated: info.estimatedCost, max: maxOperationCost } };
          const label = operationLabel(info.operation.operation.name?.value);
          metrics.estimatedCost.observe({ operation: label }, info.estimatedCost);
          const schemaIndex = index();
          if (schemaIndex && result.data) {
            info.actualCost = actualCost(schemaIndex, info.operation, result.data);
            metrics.actualCost.observe({ operation: label }, info.actualCost);
          }
        },
      };
    },
  };
}
