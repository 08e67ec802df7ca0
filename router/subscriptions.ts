import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ApolloServer } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  parse,
  print,
  validate,
  valueFromASTUntyped,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type OperationDefinitionNode,
} from 'graphql';
import { MessageType } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { LRUCache } from 'lru-cache';
import WebSocket, { WebSocketServer } from 'ws';
import { ErrorCode, MindweaveError, unauthenticated, unavailable } from '@mindweave/errors';
import type { EventBus, EventEnvelope, Subscription as BusSubscription } from '@mindweave/events';
import { requestIdFrom, type Identity, type Logger } from '@mindweave/service-kit';
import { credentialOf, type Authentication, type Authenticator } from './auth.ts';
import type { RouterContext } from './context.ts';
import { refusalOf, type Edge } from './edge.ts';
import { clientOf, type UsageReporter } from './usage-reporting.ts';
import type { Gateway } from './gateway.ts';
import type { Metrics } from './metrics.ts';
import type { PersistedQueries } from './persisted-queries.ts';
import { isMemberOf, type MembershipLookup } from './memberships.ts';
import { audienceOf, selects } from './subscription-audience.ts';

/**
 * Unsent bytes a WebSocket connection may hold before its subscribers miss events: about a
 * thousand events for a typical selection. Past it new events are dropped for that connection
 * (and counted); the others are never delayed by it.
 */
const connectionBufferLimit = 1 << 20;

/** One WebSocket connection, and what its credential stands for. */
interface Connection {
  socket: WebSocket;
  identity: Identity;
  /** The session of the access token it was opened with: ending it closes the connection. */
  sessionId?: string;
  /** The API key it was opened with, looked up again when it changes and every recheckKeysMs. */
  apiKey?: { key: string; apiKeyId: string };
  /** Closes it when its credential expires. */
  expiry?: NodeJS.Timeout;
  subscribers: Set<Subscriber>;
}

interface Subscriber {
  identity: Identity;
  connection: Connection;
  /** `{"id":"<subscription id>","type":"next","payload":`: the group's payload and `}` follow. */
  messagePrefix: string;
  socket: WebSocket;
  /** The connection under `socket`, to cork while a burst is written. */
  raw: Socket;
  prepared: Prepared;
  /** Whether the selection reaches `User`, which keeps the resolution the user's own (audienceOf). */
  reachesUser: boolean;
  /** The group it is in now: a membership change may move it to another. */
  groupKey: string;
}

/** What a subscription document asks for (prepare). */
interface Prepared {
  organizationId: string;
  /** The internal query that resolves the selection for a burst of events. */
  query: string;
  /** The usageUpdated field's alias, or usageUpdated. */
  responseKey: string;
}

interface SubscriptionContext {
  prepared: Prepared;
  identity: Identity;
  /** The user's memberships as authorized (`<organization>:<role>`, comma-separated). */
  memberships: string;
  reachesUser: boolean;
  id: string;
  connection: Connection;
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
function prepare(
  document: DocumentNode,
  operationName: string | undefined | null,
  variables: Record<string, unknown>,
): Prepared | GraphQLError {
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
  const groups = new Map<string, Group>();
  let tail: Promise<BusSubscription> | undefined;

  const context = (identity: Identity, requestId: string): RouterContext => ({
    identity,
    requestId,
    log: log.child({ requestId }),
    edge: new Map(),
    subgraphTimings: [],
  });

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
      if (root === 'usageEventsFromStream' && typeof index === 'number' && errorsOf[index])
        errorsOf[index].push({ message, path: [group.responseKey, ...rest], extensions });
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
  const recentEventIds = new LRUCache<string, true>({ max: 100_000 });
  function onEvents(events: EventEnvelope[]) {
    const watched = new Set([...groups.values()].map((group) => group.organizationId));
    const byOrganization = new Map<string, EventEnvelope<'usage.recorded'>[]>();
    for (const event of events) {
      if (event.type !== 'usage.recorded') continue;
      const usage = event;
      if (!watched.has(usage.data.organizationId)) continue;
      // An event appended again (the retry of a request whose append was not acknowledged) keeps its id: delivered once.
      if (recentEventIds.has(usage.id)) continue;
      recentEventIds.set(usage.id, true);
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
        await deliver(group, group.backlog.splice(0, eventsPerResolution)).catch((error: unknown) =>
          log.error({ err: error }, 'subscription delivery failed'),
        );
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
  async function authorize(
    identity: Identity,
    organizationId: string,
  ): Promise<{ verdict: 'allowed' | 'denied' | 'unknown'; memberships: string }> {
    if (identity.kind === 'apiKey')
      return {
        verdict: identity.organizationId === organizationId && identity.scopes.includes('usage:read') ? 'allowed' : 'denied',
        memberships: '',
      };
    if (identity.kind !== 'user') return { verdict: 'denied', memberships: '' };
    let memberships = await membershipLookup.of(identity.userId);
    // Not a member as of the cached answer: ask again, the user may have just joined.
    if (memberships && !isMemberOf(memberships, organizationId)) memberships = await membershipLookup.of(identity.userId, true);
    if (!memberships) return { verdict: 'unknown', memberships: '' };
    return { verdict: isMemberOf(memberships, organizationId) ? 'allowed' : 'denied', memberships: memberships.join(',') };
  }

  // A connection never outlives its right. One opened with an access token is closed when the token
  // expires or its session ends; one opened with an API key when the key is revoked, expires, or its
  // project or organization is deleted; a user's subscription when they are no longer a member of
  // its organization. Events say so at once (access-events.ts), and every recheckKeysMs every key
  // and every subscribed user's memberships are looked up again, in case an event was missed.
  // 4403 tells a graphql-ws client to reconnect, with fresh connectionParams when it computes them;
  // a subscription it renews for an organization it left is then refused with FORBIDDEN.
  const connections = new Map<WebSocket, Connection>();
  const userConnections = new Map<string, Set<Connection>>();

  const forbid = (connection: Connection, reason: string) => connection.socket.close(4403, `Forbidden: ${reason}`);

  function scheduleExpiry(connection: Connection, expiresAtMs: number | null | undefined) {
    clearTimeout(connection.expiry);
    // Past about 24 days setTimeout fires at once; the periodic re-check comes long before that.
    if (!expiresAtMs || expiresAtMs - Date.now() > 2 ** 31 - 1) return;
    connection.expiry = setTimeout(() => forbid(connection, 'the credential expired'), Math.max(0, expiresAtMs - Date.now())).unref();
  }

  /** Looks the keys of these connections up again: closes those that stopped working, and follows new expiries (a rotation's grace period). */
  async function recheckKeys(keyed: Connection[]) {
    const byKey = new Map<string, Connection[]>();
    for (const connection of keyed) {
      if (!connection.apiKey) continue;
      const list = byKey.get(connection.apiKey.key);
      if (list) list.push(connection);
      else byKey.set(connection.apiKey.key, [connection]);
    }
    for (const [key, list] of byKey) {
      const verdict = await authenticator.recheckApiKey(key, requestIdFrom(undefined));
      if (verdict === 'unknown') continue;
      for (const connection of list) {
        if (verdict === 'revoked') forbid(connection, 'the API key was revoked, expired or deleted');
        else scheduleExpiry(connection, verdict.expiresAtMs);
      }
    }
  }

  /** Moves a subscriber to the group of its organization, selection and audience. */
  function join(subscriber: Subscriber, audience: string) {
    const { organizationId, query, responseKey } = subscriber.prepared;
    const key = `${organizationId}\n${audience}\n${responseKey}\n${query}`;
    if (subscriber.groupKey === key && groups.get(key)?.subscribers.has(subscriber)) return;
    leave(subscriber);
    const group = groups.get(key) ?? {
      organizationId,
      query,
      responseKey,
      subscribers: new Set<Subscriber>(),
      backlog: [],
      resolving: false,
    };
    groups.set(key, group);
    group.subscribers.add(subscriber);
    subscriber.groupKey = key;
  }

  function leave(subscriber: Subscriber) {
    const group = groups.get(subscriber.groupKey);
    if (!group?.subscribers.delete(subscriber)) return;
    if (group.subscribers.size === 0) groups.delete(subscriber.groupKey);
  }

  /**
   * Asks again which organizations these users belong to (every subscribed user when none are
   * named). A subscriber no longer a member of its organization has its connection closed; one whose
   * memberships changed otherwise (a new role) moves to the group of its new audience, so that no
   * group resolves as someone who may no longer see what it shows. Nothing changes while accounts
   * cannot answer.
   */
  async function recheckMembers(userIds: string[] = [...userConnections.keys()]) {
    const subscribed = userIds.filter((id) => [...(userConnections.get(id) ?? [])].some((connection) => connection.subscribers.size > 0));
    const lists = await membershipLookup.ofMany(subscribed);
    if (!lists) return;
    for (const [userId, memberships] of lists) {
      for (const connection of userConnections.get(userId) ?? []) {
        for (const subscriber of connection.subscribers) {
          if (!isMemberOf(memberships, subscriber.prepared.organizationId)) {
            forbid(connection, 'no longer a member of the organization');
            break;
          }
          join(subscriber, audienceOf(subscriber.identity, memberships.join(','), subscriber.reachesUser));
        }
      }
    }
  }

  let rechecking = false;
  const recheckTimer = setInterval(async () => {
    if (rechecking) return;
    rechecking = true;
    try {
      await recheckKeys([...connections.values()].filter((connection) => connection.apiKey));
      await recheckMembers();
    } catch (error) {
      log.warn({ err: error }, 'subscription re-check failed');
    } finally {
      rechecking = false;
    }
  }, options.recheckKeysMs);
  recheckTimer.unref();

  /** What the router does when access changes (access-events.ts): on this instance, at once. */
  const onAccessChange = {
    sessionsEnded(sessionIds: string[]) {
      const ended = new Set(sessionIds);
      for (const connection of connections.values())
        if (connection.sessionId && ended.has(connection.sessionId)) forbid(connection, 'the session was ended');
    },
    membershipsChanged(userIds: string[]) {
      for (const userId of userIds) membershipLookup.forget(userId);
      void recheckMembers(userIds).catch((error: unknown) => log.warn({ err: error }, 'memberships not re-checked'));
    },
    apiKeysChanged(apiKeyIds: string[]) {
      const changed = new Set(apiKeyIds);
      const keyed = [...connections.values()].filter((connection) => connection.apiKey && changed.has(connection.apiKey.apiKeyId));
      if (keyed.length) void recheckKeys(keyed).catch((error: unknown) => log.warn({ err: error }, 'API keys not re-checked'));
    },
  };

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
        const { identity, sessionId, expiresAtMs } = authentication;
        const credential = credentialOf(headers);
        const connection: Connection = {
          socket,
          identity,
          ...(sessionId ? { sessionId } : {}),
          ...(credential?.kind === 'apiKey' && identity.kind === 'apiKey'
            ? { apiKey: { key: credential.key, apiKeyId: identity.apiKeyId } }
            : {}),
          subscribers: new Set(),
        };
        connections.set(socket, connection);
        if (identity.kind === 'user') {
          const list = userConnections.get(identity.userId) ?? new Set();
          userConnections.set(identity.userId, list.add(connection));
        }
        scheduleExpiry(connection, expiresAtMs);
        ctx.extra.identity = identity;
        metrics.webSocketConnections.inc();
        return true;
      },
      onClose: (ctx) => {
        const connection = connections.get(ctx.extra.socket);
        if (connection) {
          connections.delete(ctx.extra.socket);
          clearTimeout(connection.expiry);
          if (connection.identity.kind === 'user') {
            const list = userConnections.get(connection.identity.userId);
            list?.delete(connection);
            if (list?.size === 0) userConnections.delete(connection.identity.userId);
          }
        }
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
        if (errors.length)
          return errors.map(
            (e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } }),
          );
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
        if (denied.length) {
          const { code, message } = refusalOf(identity);
          return [new MindweaveError(code, `${message} ${denied.map((d) => d.path.join('.')).join(', ')}`)];
        }
        const { verdict, memberships } = await authorize(identity, prepared.organizationId);
        if (verdict === 'denied')
          return [
            identity.kind === 'anonymous'
              ? unauthenticated('Sign in to watch an organization')
              : new MindweaveError(ErrorCode.FORBIDDEN, 'Not allowed to watch this organization'),
          ];
        if (verdict === 'unknown') return [unavailable('Could not check access to this organization right now; subscribe again')];
        // Tail the log before the subscription is taken: without Redis it is refused with an error,
        // instead of failing inside graphql-ws, which would close the whole connection.
        try {
          await ensureTail();
        } catch {
          return [unavailable('Live usage is unavailable right now; subscribe again')];
        }
        const connection = connections.get(ctx.extra.socket);
        // Closed meanwhile: graphql-ws ends the subscription itself.
        if (!connection) return [unavailable('The connection closed')];
        const info = [...admission.edge.values()][0];
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
          connection,
          socket: connection.socket,
          raw,
          prepared,
          reachesUser,
          groupKey: '',
          messagePrefix: `{"id":${JSON.stringify(id)},"type":${JSON.stringify(MessageType.Next)},"payload":`,
        };
        join(subscriber, audienceOf(identity, memberships, reachesUser));
        connection.subscribers.add(subscriber);
        return openSubscription(() => {
          leave(subscriber);
          connection.subscribers.delete(subscriber);
        });
      },
    },
    wss,
  );

  return {
    onAccessChange,
    async close() {
      clearInterval(recheckTimer);
      await cleanup.dispose();
      wss.close();
      if (tail) await (await tail.catch(() => undefined))?.stop();
    },
  };
}
