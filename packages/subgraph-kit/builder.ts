import DirectivePlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import type { PothosOutputFieldConfig, SchemaTypes } from '@pothos/core';
import TracingPlugin, { isRootField } from '@pothos/plugin-tracing';
import ValidationPlugin from '@pothos/plugin-validation';
import { createOpenTelemetryWrapper } from '@pothos/tracing-opentelemetry';
import { trace } from '@opentelemetry/api';
import type { GraphQLFieldResolver } from 'graphql';
import { tracingEnabled } from '@mindweave/telemetry';
import { badUserInput, unauthenticated } from '@mindweave/errors';
import type { Identity, Logger } from '@mindweave/service-kit';
export { DateTimeScalar, JSONScalar } from './scalars.ts';

/** What every resolver gets: the identity the router vouched for, and a request-scoped logger. */
export interface SubgraphContext {
  identity: Identity;
  requestId: string;
  log: Logger;
}

/** Plugins in the order Pothos needs them: tracing first, around everything; relay before Prisma; federation last, so it sees the finished types. */
export const subgraphPlugins = [TracingPlugin, ValidationPlugin, DirectivePlugin, RelayPlugin, PrismaPlugin, FederationPlugin] as const;

/**
 * Relay's connection types, the same in every subgraph: PageInfo is shared by several subgraphs,
 * so it is @shareable and must have the same fields everywhere. Only connections are used (no
 * Node interface or node query: entities are federation's).
 */
const relayOptions = {
  clientMutationId: 'omit' as const,
  cursorType: 'String' as const,
  nodeQueryOptions: false as const,
  nodesQueryOptions: false as const,
  pageInfoTypeOptions: { shareable: true },
  endCursorFieldOptions: { description: 'Pass it as `after` for the next page.' },
};

/**
 * A span per root field (`_entities` included) when the process exports spans; the SQL beneath it
 * has its own (pg, Prisma). Off, no resolver is wrapped.
 */
function tracingOptions() {
  const traced = tracingEnabled();
  const wrap = traced ? createOpenTelemetryWrapper(trace.getTracer('@mindweave/subgraph-kit')) : undefined;
  return {
    default: <Types extends SchemaTypes>(config: PothosOutputFieldConfig<Types>) => traced && isRootField(config),
    wrap: (resolver: GraphQLFieldResolver<unknown, SubgraphContext, Record<string, unknown>>, options: unknown) =>
      wrap ? wrap(resolver, options) : resolver,
  };
}

type Issue = { message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> };

/** Validation failures become BAD_USER_INPUT naming the offending field, e.g. `input.email`. */
export const validationOptions = {
  validationError: (result: { issues: ReadonlyArray<Issue> }) => {
    const issue = result.issues[0];
    const field = issue?.path?.map((part) => String(typeof part === 'object' ? part.key : part)).join('.');
    return badUserInput(field ? `${field}: ${issue?.message}` : (issue?.message ?? 'Invalid input'), field);
  },
};

export function requireUserId(context: SubgraphContext): string {
  if (context.identity.kind !== 'user') throw unauthenticated('Sign in to do this');
  return context.identity.userId;
}

/** The schema types every subgraph's builder shares, given its generated Prisma types. */
export interface SubgraphSchemaTypes<PrismaTypes extends object> {
  PrismaTypes: PrismaTypes;
  Context: SubgraphContext;
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  Scalars: { DateTime: { Input: Date; Output: Date }; JSON: { Input: unknown; Output: unknown } };
}

/** Builder options every subgraph shares: plugins, non-null fields, Prisma and validation settings. */
export function subgraphBuilderOptions<Client, Datamodel>(options: { client: Client; dmmf: Datamodel; production: boolean }) {
  return {
    plugins: [...subgraphPlugins],
    defaultFieldNullability: false as const,
    prisma: { client: options.client, dmmf: options.dmmf, onUnusedQuery: options.production ? null : ('warn' as const) },
    validation: validationOptions,
    relay: relayOptions,
    tracing: tracingOptions(),
  };
}
