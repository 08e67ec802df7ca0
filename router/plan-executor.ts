import { buildOperationContext, type ApolloGateway } from '@apollo/gateway';
import { operationFromDocument, Supergraph } from '@apollo/federation-internals';
import { QueryPlanner } from '@apollo/query-planner';
import {
  executeSync,
  getVariableValues,
  GraphQLError,
  Kind,
  OperationTypeNode,
  visit,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type VariableDefinitionNode,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import type { RouterContext } from './context.ts';
import {
  compilePlan,
  executePlan,
  planningSchema,
  type CompiledPlan,
  type Execution,
  type PlanningSchema,
  type SendFetch,
} from './plan-execution.ts';
import { compileShape, shapeResponse, shapingSchema, type CompiledShape, type ShapingSchema } from './response-shaping.ts';
import type { SubgraphDataSource } from './subgraph-source.ts';
import { tracing, withPlanSpan, withPlanningSpan, type FetchTrace } from './tracing.ts';

type GatewayExecutor = ApolloGateway['executor'];
type RequestContext = Parameters<GatewayExecutor>[0];
type ExecutionResult = Awaited<ReturnType<GatewayExecutor>>;
type OperationContext = ReturnType<typeof buildOperationContext>;

/** What an operation is planned and shaped with: one supergraph version. */
interface SchemaState {
  apiSchema: ShapingSchema;
  planning: PlanningSchema;
  planner: QueryPlanner;
  /**
   * By query hash and operation name, like @apollo/gateway's query plan store. Nothing in it
   * refers to the document, whose tokens Apollo Server's document cache alone decides to keep.
   */
  plans: LRUCache<string, Planned>;
}

type Planned = { plan: CompiledPlan; shape: CompiledShape };

/** Roughly what a compiled selection weighs on the heap. */
const bytesPerSelection = 200;

const plannedBytes = (planned: Planned) => 1_000 + planned.plan.bytes + planned.shape.size * bytesPerSelection;

const introspectionVariables = (node: FieldNode) => {
  const used = new Set<string>();
  visit(node, { Variable: ({ name }) => void used.add(name.value) });
  return used;
};

/** executeIntrospection of @apollo/gateway: `__schema` and `__type` answered by graphql-js. */
function executeIntrospection(
  schema: GraphQLSchema,
  selection: FieldNode,
  variableDefinitions: readonly VariableDefinitionNode[] | undefined,
  variableValues: Record<string, unknown> | undefined,
): unknown {
  const used = introspectionVariables(selection);
  const usedDefinitions = variableDefinitions?.filter((definition) => used.has(definition.variable.name.value));
  if (used.size !== (usedDefinitions?.length ?? 0))
    throw new Error(`Should have found all used variables ${[...used].join(',')} in definitions ${JSON.stringify(variableDefinitions)}`);
  const { data, errors } = executeSync({
    schema,
    document: {
      kind: Kind.DOCUMENT,
      definitions: [
        {
          kind: Kind.OPERATION_DEFINITION,
          operation: OperationTypeNode.QUERY,
          variableDefinitions: usedDefinitions,
          selectionSet: { kind: Kind.SELECTION_SET, selections: [selection] },
        },
      ],
    },
    rootValue: {},
    variableValues,
  });
  if (errors?.length || !data)
    throw new Error(`Introspection query for ${JSON.stringify(selection)} should not have failed but got ${JSON.stringify(errors)}`);
  const key = selection.alias?.value ?? selection.name.value;
  return Object.hasOwn(data, key) ? data[key] : undefined;
}

export interface PlanExecutorOptions {
  /** The data source of each subgraph, by name (the gateway's buildService fills it). */
  sources: Map<string, SubgraphDataSource>;
  /** @apollo/gateway's own executor, for what this one leaves to it (federated traces for usage reporting). */
  fallback: GatewayExecutor;
  /** About how many bytes the kept plans may hold (a plan of the federation benchmark's TestQuery: about 20 KB). */
  maxPlanBytes?: number;
}

/**
 * The router's executor of @apollo/gateway's query plans: the same planner (@apollo/query-planner
 * over the same supergraph), the same answers byte for byte, less work per request. Each operation
 * is planned and compiled once (plan-execution.ts, response-shaping.ts); @apollo/gateway instead
 * rebuilds the operation with @apollo/federation-internals and walks it on every request.
 */
export function createPlanExecutor({ sources, fallback, maxPlanBytes = 16 * 1024 * 1024 }: PlanExecutorOptions) {
  let state: SchemaState | undefined;

  /** A new supergraph version: its own planner and plans. */
  function setSupergraph(supergraphSdl: string) {
    const supergraph = Supergraph.build(supergraphSdl, { validateSupergraph: false });
    const apiSchema = supergraph.apiSchema();
    state = {
      apiSchema: shapingSchema(apiSchema),
      planning: planningSchema(supergraph.schema),
      planner: new QueryPlanner(supergraph),
      plans: new LRUCache({ maxSize: maxPlanBytes, sizeCalculation: plannedBytes }),
    };
  }

  const planKey = ({ queryHash, request }: RequestContext) =>
    request.operationName ? `${queryHash}\n${request.operationName}` : queryHash;

  function plan(
    schema: SchemaState,
    document: DocumentNode,
    operationName: string | undefined,
    context: OperationContext,
  ): Planned | { errors: GraphQLError[] } {
    const planned = schema.planner.buildQueryPlan(operationFromDocument(schema.apiSchema.schema, document, { operationName }), {
      recursiveSelectionsLimitDisabled: false,
      nonLocalSelectionsLimitDisabled: false,
    });
    let operation: ReturnType<typeof operationFromDocument>;
    try {
      operation = operationFromDocument(
        schema.apiSchema.schema,
        { kind: Kind.DOCUMENT, definitions: [context.operation, ...Object.values(context.fragments)] },
        { validate: false },
      );
    } catch (error) {
      if (error instanceof GraphQLError) return { errors: [error] };
      throw error;
    }
    return { plan: compilePlan(schema.planning, operation, planned), shape: compileShape(schema.apiSchema, operation) };
  }

  const sendFetch =
    (requestContext: RequestContext, fetchTrace?: FetchTrace): SendFetch =>
    (fetch, body) => {
      const source = sources.get(fetch.subgraph);
      if (!source) return Promise.reject(new Error(`Couldn't find service with name "${fetch.subgraph}"`));
      const context = requestContext.context as Partial<RouterContext>;
      return source.send(body, {
        fetchTrace,
        context: context && 'edge' in context ? (context as RouterContext) : undefined,
        operationName: requestContext.operationName ?? undefined,
        cachePolicy: requestContext.overallCachePolicy,
        query: fetch.operationKind === 'query',
        text: fetch.operation,
      });
    };

  const executor: GatewayExecutor = async (requestContext: RequestContext): Promise<ExecutionResult> => {
    const schema = state;
    if (!schema || requestContext.metrics?.captureTraces) return fallback(requestContext);
    const { request, document } = requestContext;
    const context = buildOperationContext({
      schema: requestContext.schema,
      operationDocument: document,
      operationName: request.operationName,
    });
    const variableDefinitions = context.operation.variableDefinitions;
    if (variableDefinitions) {
      const { errors } = getVariableValues(requestContext.schema, variableDefinitions, request.variables || {});
      if (errors) return { errors };
    }
    const operationTrace = tracing ? (requestContext.context as Partial<RouterContext>).traceContext : undefined;
    const key = planKey(requestContext);
    let planned = schema.plans.get(key);
    const cached = planned !== undefined;
    if (!planned) {
      const found = tracing
        ? withPlanningSpan(operationTrace, () => plan(schema, document, request.operationName, context))
        : plan(schema, document, request.operationName, context);
      // Errors point into the document: not kept, found again next time as @apollo/gateway does.
      if ('errors' in found) return { errors: found.errors };
      planned = found;
      schema.plans.set(key, planned);
    }

    const execution: Execution = {
      variables: request.variables,
      data: {},
      errors: [],
      send: sendFetch(requestContext),
    };
    const compiled = planned.plan;
    await (tracing
      ? withPlanSpan(operationTrace, request.operationName, cached, (fetchTrace) => {
          execution.send = sendFetch(requestContext, fetchTrace);
          return executePlan(compiled, execution);
        })
      : executePlan(compiled, execution));
    if (execution.errorPaths?.length)
      requestContext.metrics.nonFtv1ErrorPaths = [...(requestContext.metrics.nonFtv1ErrorPaths ?? []), ...execution.errorPaths];

    let shaped: ReturnType<typeof shapeResponse>;
    try {
      shaped = shapeResponse(planned.shape, schema.apiSchema.types, execution.data, request.variables, (selection) =>
        executeIntrospection(requestContext.schema, selection, variableDefinitions, request.variables),
      );
    } catch (error) {
      if (error instanceof GraphQLError) return { errors: [error] };
      if (error instanceof Error) return { errors: [new GraphQLError(error.message, { originalError: error })] };
      requestContext.logger.error(`Unexpected error during query plan execution: ${String(error)}`);
      return { errors: [new GraphQLError('Unexpected error during query plan execution')] };
    }
    // As @apollo/gateway: errors found while shaping are reported only when no fetch failed, and
    // then as an extension, where clients that relied on their absence do not trip on them.
    if (execution.errors.length === 0 && shaped.errors.length > 0)
      return { extensions: { valueCompletion: shaped.errors }, data: shaped.data };
    return execution.errors.length === 0 ? { data: shaped.data } : { errors: execution.errors as GraphQLError[], data: shaped.data };
  };

  return { setSupergraph, executor };
}
