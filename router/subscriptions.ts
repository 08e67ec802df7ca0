import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ApolloServer } from '@apollo/server';
import { decodeJwt } from 'jose';
import { GraphQLError, Kind, parse, print, validate, valueFromASTUntyped, type DocumentNode, type ExecutionArgs, type ExecutionResult, type FieldNode, type OperationDefinitionNode } from 'graphql';
import { MessageType } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { LRUCache } from 'lru-cache';
import WebSocket, { WebSocketServer } from 'ws';
import { ErrorCode, MindweaveError, unavailable } from '@mindweave/errors';
import type { EventBus, EventEnvelope, Subscription as BusSubscription } from '@mindweave/events';
import { requestIdFrom, type Identity, type Logger } from '@mindweave/service-kit';
import { credentialOf, type Authenticator } from './auth.ts';
import type { RouterContext } from './context.ts';
import type { Edge } from './edge.ts';
import type { Gateway } from './gateway.ts';
import type { Metrics } from './metrics.ts';
import type { PersistedQueries } from './persisted-queries.ts';
import { audienceOf, selects } from './subscription-audience.ts';

/**
 * Unsent bytes a WebSocket connection may hold before its subscribers miss events: about a
 * thousand events for a typical selection. Past it new events are dropped for that connection
 * (and counted); the others are never delayed by it.
 */
const connectionBufferLimit = 1 << 20;

interface Subscriber {
  identity: Identity;
  /** `{"id":"<subscription id>","type":"next","payload":`: the group's payload and `}` follow. */
  messagePrefix: string;
  socket: WebSocket;
  /** The connection under `socket`, to cork while a burst is written. */
  raw: Socket;
}

/** What a subscription document asks for (prepare). */
interface Prepared {
  organizationId: string;
  /** The internal query that resolves the selection for a burst of events. */
  query: string;
  /** The usageUpdated field's alias, or usageUpdated. */
  responseKey: string;
}

interface SubscriptionContext extends Prepared {
  identity: Identity;
  /** Who may share this subscriber's resolution (audienceOf). */
  audience: string;
  id: string;
  socket: WebSocket;
  raw: Socket;
}

/** Subscribers that see the same thing: one organization, one selection, one audience (audienceOf). */
interface Group extends Prepared {
  subscribers: Set<Subscriber>;
  /** Events not yet resolved: the next resolution takes them all (up to eventsPerResolution). */
  backlog: EventEnvelope<'usage.recorded'>[];
  resolving: boolean;
}

/** Events one group may wait with while its previous ones are resolved; past it the oldest are dropped (and counted). */
const groupBacklogLimit = 10_000;
/** Events resolved in one operation: a recordUsageBatch's worth. */
const eventsPerResolution = 1_000;

/** The usageUpdated field of a valid subscription document, and the query that resolves its selection. */
function prepare(document: DocumentNode, operationName: string | undefined | null, variables: Record<string, unknown>): Prepared | GraphQLError {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation || operation.operation !== 'subscription') return new GraphQLError('Only subscriptions are served over WebSocket', { extensions: { code: ErrorCode.BAD_USER_INPUT } });
  const fields = operation.selectionSet.selections.filter((s): s is FieldNode => s.kind === Kind.FIELD);
  const field = fields[0];
  if (fields.length !== 1 || field?.name.value !== 'usageUpdated' || !field.selectionSet) {
    return new GraphQLError('Subscribe to exactly one usageUpdated field', { extensions: { code: ErrorCode.BAD_USER_INPUT } });
  }
  const orgArg = field.arguments?.find((a) => a.name.value === 'organizationId');
  const organizationId = orgArg ? String(valueFromASTUntyped(orgArg.value, variables)) : '';
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => print(d));
  const query = [`query ($events: [JSON!]!) { usageEventsFromStream(events: $events) ${print(field.selectionSet)} }`, ...fragments].join('\n');
  return { organizationId, query, responseKey: field.alias?.value ?? field.name.value };
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

const usagePayload = (event: EventEnvelope<'usage.recorded'>) => ({ id: event.id, ...event.data });

export interface SubscriptionOptions {
  server: Server;
  apollo: ApolloServer<RouterContext>;
  gateway: Pick<Gateway, 'schema'>;
  authenticator: Authenticator;
  persisted: PersistedQueries;
  bus: EventBus;
  /** Judges each subscription as it judges an HTTP operation: limits, cost, rate, field authorization. */
  edge: Edge;
  /** The largest message a client may send (the HTTP body limit). */
  maxMessageBytes: number;
  /** Subscriptions one connection may hold at once. */
  maxSubscriptionsPerConnection: number;
  /** How often the API key of each connection that holds one is checked for revocation. */
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
  const { apollo, gateway, authenticator, persisted, bus, edge, metrics, log } = options;
  const groups = new Map<string, Group>();
  let tail: Promise<BusSubscription> | undefined;

  const context = (identity: Identity, requestId: string): RouterContext => ({ identity, requestId, log: log.child({ requestId }), edge: new Map(), subgraphTimings: [] });

  /**
   * Writes each event's `next` message to every subscriber of the group. The payload is
   * serialized once per event, not once per subscriber, and each connection's messages of a burst
   * leave in one write: corked sockets are uncorked once the burst is out.
   */
  async function deliver(group: Group, events: EventEnvelope<'usage.recorded'>[]) {
    const first = group.subscribers.values().next().value;
    if (!first) return;
    const response = await apollo.executeOperation(
      { query: group.query, variables: { events: events.map(usagePayload) } },
      { contextValue: context(first.identity, `subscription-${events[0]?.id ?? ''}`) },
    );
    if (response.body.kind !== 'single') return;
    const { data, errors = [] } = response.body.singleResult;
    const items = (data as { usageEventsFromStream?: unknown[] } | null | undefined)?.usageEventsFromStream ?? [];
    // An error at usageEventsFromStream.<i>... belongs to event i, at usageUpdated...; any other to
    // every event. Locations point into the router's own query, not the client's: left out.
    const errorsOf = events.map(() => [] as unknown[]);
    const everyEvent: unknown[] = [];
    for (const { message, path, extensions } of errors) {
      const [root, index, ...rest] = path ?? [];
      if (root === 'usageEventsFromStream' && typeof index === 'number' && errorsOf[index]) errorsOf[index].push({ message, path: [group.responseKey, ...rest], extensions });
      else everyEvent.push({ message, extensions });
    }
    const key = JSON.stringify(group.responseKey);
    const bodies = events.map((_, i) => {
      const item = items[i] ?? null;
      const eventErrors = [...errorsOf[i]!, ...everyEvent];
      // usageUpdated is non-null: without its item, the whole data is null, as graphql-js would answer.
      const body = item === null ? '{"data":null' : `{"data":{${key}:${JSON.stringify(item)}}`;
      return `${body}${eventErrors.length ? `,"errors":${JSON.stringify(eventErrors)}` : ''}}}`;
    });
    let dropped = 0;
    for (const subscriber of group.subscribers) {
      const { socket } = subscriber;
      if (socket.readyState !== WebSocket.OPEN) continue;
      if (socket.bufferedAmount > connectionBufferLimit) {
        dropped += bodies.length;
        continue;
      }
      cork(subscriber);
      for (const body of bodies) socket.send(subscriber.messagePrefix + body);
    }
    if (dropped) metrics.droppedSubscriptionEvents.inc(dropped);
  }

  const corked = new Set<Socket>();
  function cork({ raw }: Subscriber) {
    if (corked.has(raw)) return;
    raw.cork();
    if (corked.size === 0) setImmediate(uncorkAll);
    corked.add(raw);
  }
  function uncorkAll() {
    for (const raw of corked) raw.uncork();
    corked.clear();
  }

  /**
   * Hands each burst to the groups of its organizations without waiting for them: a group whose
   * selection is slow to resolve (a subgraph hanging) delays only its own subscribers. While a
   * group resolves, new events wait in its backlog and go together in its next resolution, so a
   * slow or busy group resolves fewer, larger bursts.
   */
  function onEvents(events: EventEnvelope[]) {
    const byOrganization = new Map<string, EventEnvelope<'usage.recorded'>[]>();
    for (const event of events) {
      if (event.type !== 'usage.recorded') continue;
      const usage = event as EventEnvelope<'usage.recorded'>;
      const list = byOrganization.get(usage.data.organizationId);
      if (list) list.push(usage);
      else byOrganization.set(usage.data.organizationId, [usage]);
    }
    for (const group of groups.values()) {
      const burst = byOrganization.get(group.organizationId);
      if (!burst) continue;
      for (const event of burst) group.backlog.push(event);
      const excess = group.backlog.length - groupBacklogLimit;
      if (excess > 0) {
        group.backlog.splice(0, excess);
        metrics.droppedSubscriptionEvents.inc(excess * group.subscribers.size);
      }
      if (!group.resolving) void resolveBacklog(group);
    }
    return Promise.resolve();
  }

  async function resolveBacklog(group: Group) {
    group.resolving = true;
    try {
      while (group.backlog.length && group.subscribers.size) {
        await deliver(group, group.backlog.splice(0, eventsPerResolution)).catch((error: unknown) => log.error({ err: error }, 'subscription delivery failed'));
      }
    } finally {
      group.resolving = false;
    }
  }

  function ensureTail() {
    tail ??= bus.tail({ domains: ['usage'], handler: onEvents }).catch((error: unknown) => {
      tail = undefined;
      log.error({ err: error }, 'could not tail the usage event log');
      throw error;
    });
    return tail;
  }

  /**
   * May the caller watch the organization? `unknown` when accounts could not tell (down, slow).
   * For a user, also their memberships (`<organization>:<role>`, sorted): what decides what they see.
   */
  async function authorize(identity: Identity, organizationId: string): Promise<{ verdict: 'allowed' | 'denied' | 'unknown'; memberships: string }> {
    if (identity.kind === 'apiKey') return { verdict: identity.organizationId === organizationId && identity.scopes.includes('usage:read') ? 'allowed' : 'denied', memberships: '' };
    if (identity.kind !== 'user') return { verdict: 'denied', memberships: '' };
    const isMember = (memberships: string[]) => memberships.some((m) => m.startsWith(`${organizationId}:`));
    let memberships = await membershipsOf(identity);
    // Not a member as of the cached answer: ask again, the user may have just joined.
    if (memberships && !isMember(memberships)) memberships = await membershipsOf(identity, true);
    if (!memberships) return { verdict: 'unknown', memberships: '' };
    return { verdict: isMember(memberships) ? 'allowed' : 'denied', memberships: memberships.join(',') };
  }

  // A dashboard opens several subscriptions at once: its user's memberships are asked for once.
  const recentMemberships = new LRUCache<string, Promise<string[] | null>>({ max: 10_000, ttl: 10_000 });
  function membershipsOf(identity: Extract<Identity, { kind: 'user' }>, fresh = false): Promise<string[] | null> {
    let memberships = fresh ? undefined : recentMemberships.get(identity.userId);
    if (!memberships) {
      let asked: Promise<string[] | null> | undefined;
      asked = (async () => {
        const response = await apollo
          .executeOperation({ query: '{ me { memberships { role organization { id } } } }' }, { contextValue: context(identity, requestIdFrom(undefined)) })
          .catch(() => undefined);
        const result = response?.body.kind === 'single' ? response.body.singleResult : undefined;
        const me = (result?.data as { me?: { memberships: { role: string; organization: { id: string } }[] } | null } | null | undefined)?.me;
        if (!result || result.errors?.length || !me) {
          // Not an answer: the next subscription asks again (unless a newer question replaced this one).
          if (recentMemberships.get(identity.userId) === asked) recentMemberships.delete(identity.userId);
          return null;
        }
        return me.memberships.map((m) => `${m.organization.id}:${m.role}`).sort();
      })();
      memberships = asked;
      recentMemberships.set(identity.userId, asked);
    }
    return memberships;
  }

  // A connection would outlive the credential it was opened with: one opened with an access token
  // is closed when the token expires, one opened with an API key when the key is revoked (looked
  // up again every recheckKeysMs). 4403 tells a graphql-ws client to reconnect, with fresh
  // connectionParams when it computes them.
  const tokenExpiries = new Map<WebSocket, NodeJS.Timeout>();
  const keyedConnections = new Map<WebSocket, string>();
  let rechecking = false;
  const recheckKeys = setInterval(async () => {
    if (rechecking) return;
    rechecking = true;
    try {
      const byKey = new Map<string, WebSocket[]>();
      for (const [socket, key] of keyedConnections) {
        const sockets = byKey.get(key);
        if (sockets) sockets.push(socket);
        else byKey.set(key, [socket]);
      }
      for (const [key, sockets] of byKey) {
        if (!(await authenticator.apiKeyRevoked(key, requestIdFrom(undefined)))) continue;
        for (const socket of sockets) {
          keyedConnections.delete(socket);
          socket.close(4403, 'Forbidden: the API key was revoked');
        }
      }
    } finally {
      rechecking = false;
    }
  }, options.recheckKeysMs);
  recheckKeys.unref();

  const wss = new WebSocketServer({ server: options.server, path: '/graphql', maxPayload: options.maxMessageBytes });
  type Extra = { identity: Identity };
  const cleanup = useServer<Record<string, unknown> | undefined, Partial<Extra>>(
    {
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.['authorization'];
        const headers = typeof authorization === 'string' ? { authorization } : {};
        let identity: Identity;
        try {
          identity = await authenticator.authenticate(headers, requestIdFrom(undefined));
        } catch {
          return false; // 4403 Forbidden, as graphql-ws defines it
        }
        // Closed while it was authenticated: onClose has run already, and would not run again.
        const { socket } = ctx.extra;
        if (socket.readyState !== WebSocket.OPEN) return false;
        ctx.extra.identity = identity;
        const credential = credentialOf(headers);
        if (credential?.kind === 'apiKey') keyedConnections.set(socket, credential.key);
        if (credential?.kind === 'jwt') {
          const expiresInMs = (decodeJwt(credential.token).exp ?? 0) * 1000 - Date.now();
          tokenExpiries.set(socket, setTimeout(() => socket.close(4403, 'Forbidden: the access token expired'), Math.max(0, expiresInMs)).unref());
        }
        metrics.webSocketConnections.inc();
        return true;
      },
      onClose: (ctx) => {
        keyedConnections.delete(ctx.extra.socket);
        clearTimeout(tokenExpiries.get(ctx.extra.socket));
        tokenExpiries.delete(ctx.extra.socket);
        if (ctx.extra.identity) metrics.webSocketConnections.dec();
      },
      onSubscribe: async (ctx, id, payload) => {
        // graphql-ws has already counted this one.
        if (Object.keys(ctx.subscriptions).length > options.maxSubscriptionsPerConnection) {
          return [new MindweaveError(ErrorCode.RATE_LIMITED, `A connection may hold at most ${options.maxSubscriptionsPerConnection} subscriptions at once`)];
        }
        const schema = gateway.schema;
        if (!schema) return [new GraphQLError('The supergraph is not loaded yet', { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } })];
        // Persisted subscriptions and safelist mode work as over HTTP.
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
        if (errors.length) return errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } }));
        const variables = payload.variables ?? {};
        const prepared = prepare(document, payload.operationName, variables);
        if (prepared instanceof GraphQLError) return [prepared];
        const identity = ctx.extra.identity ?? { kind: 'anonymous' };
        // Events are resolved with executeOperation, which the HTTP edge never sees: judge the
        // document here, once. A field the caller may not see refuses the whole subscription.
        const ip = ctx.extra.request.socket.remoteAddress ?? 'unknown';
        const admission = await edge.admit(identity, ip, [{ query, operationName: payload.operationName ?? undefined, variables }], false);
        if (!admission.ok) return [admission.error];
        const denied = [...admission.edge.values()].flatMap((info) => info.denied);
        if (denied.length) return [new MindweaveError(ErrorCode.FORBIDDEN, `Not allowed to see ${denied.map((d) => d.path.join('.')).join(', ')}`)];
        const { verdict, memberships } = await authorize(identity, prepared.organizationId);
        if (verdict === 'denied') return [new MindweaveError(ErrorCode.FORBIDDEN, 'Not allowed to watch this organization')];
        if (verdict === 'unknown') return [unavailable('Could not check access to this organization right now; subscribe again')];
        // Tail the log before the subscription is taken: without Redis it is refused with an error,
        // instead of failing inside graphql-ws, which would close the whole connection.
        try {
          await ensureTail();
        } catch {
          return [unavailable('Live usage is unavailable right now; subscribe again')];
        }
        return { schema, document, variableValues: variables, operationName: payload.operationName, contextValue: { identity, ...prepared, audience: audienceOf(identity, memberships, selects(schema, document, 'User')), id, socket: ctx.extra.socket, raw: ctx.extra.request.socket as Socket } satisfies SubscriptionContext } satisfies ExecutionArgs;
      },
      subscribe: async (args) => {
        const { identity, organizationId, query, responseKey, audience, id, socket, raw } = args.contextValue as SubscriptionContext;
        const key = `${organizationId}\n${audience}\n${responseKey}\n${query}`;
        const group = groups.get(key) ?? { organizationId, query, responseKey, subscribers: new Set<Subscriber>(), backlog: [], resolving: false };
        groups.set(key, group);
        // graphql-ws' `next` message, written by hand so that each event is serialized once per group.
        const subscriber: Subscriber = { identity, socket, raw, messagePrefix: `{"id":${JSON.stringify(id)},"type":${JSON.stringify(MessageType.Next)},"payload":` };
        group.subscribers.add(subscriber);
        return openSubscription(() => {
          group.subscribers.delete(subscriber);
          if (group.subscribers.size === 0) groups.delete(key);
        });
      },
    },
    wss,
  );

  return {
    async close() {
      clearInterval(recheckKeys);
      await cleanup.dispose();
      wss.close();
      if (tail) await (await tail.catch(() => undefined))?.stop();
    },
  };
}
