import {
  GraphQLError,
  Kind,
  parse,
  print,
  validate,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { ErrorCode } from '@mindweave/errors';
import type { PersistedQueries } from './persisted-queries.ts';

/** What a subscription document asks for. */
export interface PreparedSubscription {
  organizationId: string;
  /** The internal query that resolves the selection for a burst of events. */
  query: string;
  /** The usageUpdated field's alias, or usageUpdated. */
  responseKey: string;
}

/**
 * The document a subscribe message stands for, parsed and validated against the supergraph.
 * Persisted subscriptions and safelist mode work as over HTTP.
 */
export async function subscriptionDocumentOf(
  schema: GraphQLSchema,
  persisted: Pick<PersistedQueries, 'resolve'>,
  payload: { query?: string; extensions?: Record<string, unknown> | null },
): Promise<{ query: string; document: DocumentNode } | GraphQLError[]> {
  let query: string;
  try {
    const resolved = await persisted.resolve({ query: payload.query || undefined, extensions: payload.extensions ?? undefined });
    query = resolved.query ?? '';
  } catch (error) {
    const code = error instanceof GraphQLError ? error.extensions['code'] : ErrorCode.BAD_USER_INPUT;
    return [new GraphQLError((error as Error).message, { extensions: { code } })];
  }
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (error) {
    return [new GraphQLError((error as Error).message, { extensions: { code: ErrorCode.GRAPHQL_PARSE_FAILED } })];
  }
  const errors = validate(schema, document);
  if (errors.length)
    return errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } }));
  return { query, document };
}

/** The usageUpdated field of a valid subscription document, and the query that resolves its selection. */
export function prepareSubscription(
  document: DocumentNode,
  operationName: string | undefined | null,
  variables: Record<string, unknown>,
): PreparedSubscription | GraphQLError {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (operation?.operation !== 'subscription')
    return new GraphQLError('Only subscriptions are served over WebSocket', { extensions: { code: ErrorCode.BAD_USER_INPUT } });
  const fields = operation.selectionSet.selections.filter((s): s is FieldNode => s.kind === Kind.FIELD);
  const field = fields[0];
  if (fields.length !== 1 || field?.name.value !== 'usageUpdated' || !field.selectionSet) {
    return new GraphQLError('Subscribe to exactly one usageUpdated field', { extensions: { code: ErrorCode.BAD_USER_INPUT } });
  }
  const orgArg = field.arguments?.find((a) => a.name.value === 'organizationId');
  const organizationId = orgArg ? String(valueFromASTUntyped(orgArg.value, variables)) : '';
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => print(d));
  const query = [`query ($events: [JSON!]!) { usageEventsFromStream(events: $events) ${print(field.selectionSet)} }`, ...fragments].join(
    '\n',
  );
  return { organizationId, query, responseKey: field.alias?.value ?? field.name.value };
}
