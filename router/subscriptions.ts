import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ApolloServer } from '@apollo/server';
import { GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { MessageType } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import WebSocket, { WebSocketServer } from 'ws';
import { ErrorCode, MindweaveError, unavailable } from '@mindweave/errors';
import type { EventBus } from '@mindweave/events';
import { requestIdFrom, type Identity, type Logger } from '@mindweave/service-kit';
import { startAccessRechecks } from './access-rechecks.ts';
import { credentialOf, type Authentication, type Authenticator } from './auth.ts';
import type { RouterContext } from './context.ts';
import type { Edge } from './edge.ts';
import { createUsageTail } from './event-tail.ts';
import type { Gateway } from './gateway.ts';
import type { MembershipLookup } from './memberships.ts';
import type { Metrics } from './metrics.ts';
import type { PersistedQueries } from './persisted-queries.ts';
import { audienceOf, selects } from './subscription-audience.ts';
import { admitSubscription } from './subscription-admission.ts';
import { createConnections, type Connection } from './subscription-connections.ts';
import { createSubscriptionDelivery, usagePayload, type Subscriber } from './subscription-delivery.ts';
import { prepareSubscription, subscriptionDocumentOf, type PreparedSubscription } from './subscription-document.ts';
import { clientOf, type UsageReporter } from './usage-reporting.ts';

interface SubscriptionContext {
  prepared: PreparedSubscription;
  identity: Identity;
  /** The user's memberships as authorized (`<organization>:<role>`, comma-separated). */
  memberships: string;
  reachesUser: boolean;
  id: string;
  connection: Connection;
  raw: Socket;
}

/** Completes when graphql-ws returns it (the client completed, or the socket closed); yields nothing. */
function openSubscription(onClose: () => void): AsyncIterableIterator<ExecutionResult> {
  let finish: ((result: IteratorResult<ExecutionResult>) => void) | undefined;
  let closed = false;
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    next: () => (closed ? Promise.resolve({ value: undefined, done: true }) : new Promise((resolve) => (finish = resolve))),
    return: () => {
      if (!closed) onClose();
      closed = true;
      finish?.({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

export interface SubscriptionOptions {
  server: Server;
  apollo: ApolloServer<RouterContext>;
  gateway: Pick<Gateway, 'schema'>;
  authenticator: Authenticator;
  /** Users' memberships, from accounts. */
  membershipLookup: MembershipLookup;
  persisted: PersistedQueries;
  bus: EventBus;
  /** Judges each subscription as it judges an HTTP operation: limits, cost, rate, field authorization. */
  edge: Edge;
  /** Counts each subscription once, when it is subscribed. */
  usage?: UsageReporter | undefined;
  /** The largest message a client may send (the HTTP body limit). */
  maxMessageBytes: number;
  /** Subscriptions one connection may hold at once. */
  maxSubscriptionsPerConnection: number;
  /** How often each connection's API key, and each subscribed user's memberships, are looked up again. */
  recheckKeysMs: number;
  metrics: Metrics;
  log: Logger;
}

/**
 * GraphQL subscriptions over graphql-ws, which @apollo/gateway cannot serve. Each router instance
 * tails the usage event log and, per burst of events, resolves each group's selection once through
 * the supergraph (so `organization { name }` is planned and batched like any query), then fans the
 * results out to the group's subscribers.
 */
export function startSubscriptions(options: SubscriptionOptions) {
  const { apollo, gateway, authenticator, membershipLookup, persisted, bus, edge, metrics, log } = options;

  const delivery = createSubscriptionDelivery({
    async resolve(query, events, identity) {
      const requestId = `subscription-${events[0]?.id ?? ''}`;
      const response = await apollo.executeOperation(
        { query, variables: { events: events.map(usagePayload) } },
        { contextValue: { identity, requestId, log: log.child({ requestId }), edge: new Map(), subgraphTimings: [] } },
      );
      return response.body.kind === 'single' ? response.body.singleResult : undefined;
    },
    metrics,
    log,
  });
  const tail = createUsageTail({ bus, onEvents: delivery.onEvents, log });
  const connections = createConnections();
  const rechecks = startAccessRechecks({
    connections,
    authenticator,
    membershipLookup,
    delivery,
    intervalMs: options.recheckKeysMs,
    log,
  });

  const wss = new WebSocketServer({ server: options.server, path: '/graphql', maxPayload: options.maxMessageBytes });
  type Extra = { identity: Identity };
  const cleanup = useServer<Record<string, unknown> | undefined, Partial<Extra>>(
    {
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.['authorization'];
        const headers = typeof authorization === 'string' ? { authorization } : {};
        let authentication: Authentication;
        try {
          authentication = await authenticator.authenticateFully(headers, requestIdFrom(undefined));
        } catch {
          return false; // 4403 Forbidden, as graphql-ws defines it
        }
        // Closed while it was authenticated: onClose has run already, and would not run again.
        const { socket } = ctx.extra;
        if (socket.readyState !== WebSocket.OPEN) return false;
        const credential = credentialOf(headers);
        connections.open(socket, authentication, credential?.kind === 'apiKey' ? credential.key : undefined);
        ctx.extra.identity = authentication.identity;
        metrics.webSocketConnections.inc();
        return true;
      },
      onClose: (ctx) => {
        connections.close(ctx.extra.socket);
        if (ctx.extra.identity) metrics.webSocketConnections.dec();
      },
      onSubscribe: async (ctx, id, payload) => {
        const started = performance.now();
        // graphql-ws has already counted this one.
        if (Object.keys(ctx.subscriptions).length > options.maxSubscriptionsPerConnection) {
          return [
            new MindweaveError(
              ErrorCode.RATE_LIMITED,
              `A connection may hold at most ${options.maxSubscriptionsPerConnection} subscriptions at once`,
            ),
          ];
        }
        const schema = gateway.schema;
        if (!schema)
          return [new GraphQLError('The supergraph is not loaded yet', { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } })];
        const parsed = await subscriptionDocumentOf(schema, persisted, payload);
        if (Array.isArray(parsed)) return parsed;
        const { query, document } = parsed;
        const variables = payload.variables ?? {};
        const prepared = prepareSubscription(document, payload.operationName, variables);
        if (prepared instanceof GraphQLError) return [prepared];
        const identity = ctx.extra.identity ?? { kind: 'anonymous' };
        const ip = ctx.extra.request.socket.remoteAddress ?? 'unknown';
        const request = { query, operationName: payload.operationName ?? undefined, variables };
        const admission = await admitSubscription({ edge, membershipLookup }, identity, ip, request, prepared.organizationId);
        if (!admission.ok) return admission.errors;
        const { info, memberships } = admission;
        // Tail the log before the subscription is taken: without Redis it is refused with an error,
        // instead of failing inside graphql-ws, which would close the whole connection.
        try {
          await tail.ensure();
        } catch {
          return [unavailable('Live usage is unavailable right now; subscribe again')];
        }
        const connection = connections.get(ctx.extra.socket);
        // Closed meanwhile: graphql-ws ends the subscription itself.
        if (!connection) return [unavailable('The connection closed')];
        if (info && options.usage) {
          // The upgrade request's headers, else the same names in connection_init's payload.
          const params = ctx.connectionParams ?? {};
          const client = clientOf(
            (name) => ctx.extra.request.headers[name] ?? (typeof params[name] === 'string' ? params[name] : undefined),
          );
          options.usage.record(info, client, performance.now() - started, false);
        }
        const contextValue: SubscriptionContext = {
          prepared,
          identity,
          memberships,
          reachesUser: selects(schema, document, 'User'),
          id,
          connection,
          raw: ctx.extra.request.socket as Socket,
        };
        return { schema, document, variableValues: variables, operationName: payload.operationName, contextValue } satisfies ExecutionArgs;
      },
      subscribe: async (args) => {
        const { prepared, identity, memberships, reachesUser, id, connection, raw } = args.contextValue as SubscriptionContext;
        // graphql-ws' `next` message, written by hand so that each event is serialized once per group.
        const subscriber: Subscriber = {
          identity,
          socket: connection.socket,
          raw,
          prepared,
          reachesUser,
          groupKey: '',
          messagePrefix: `{"id":${JSON.stringify(id)},"type":${JSON.stringify(MessageType.Next)},"payload":`,
        };
        delivery.join(subscriber, audienceOf(identity, memberships, reachesUser));
        connection.subscribers.add(subscriber);
        return openSubscription(() => {
          delivery.leave(subscriber);
          connection.subscribers.delete(subscriber);
        });
      },
    },
    wss,
  );

  return {
    onAccessChange: rechecks.onAccessChange,
    async close() {
      rechecks.stop();
      await cleanup.dispose();
      wss.close();
      await tail.stop();
    },
  };
}
