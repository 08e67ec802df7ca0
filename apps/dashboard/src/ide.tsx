import './ide-workers.ts';
import 'graphiql/style.css';
import './ide.css';
import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { getOperationAST, GraphQLError, parse, type ExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { createRoot } from 'react-dom/client';

/** What the router put in the page (router/ide.ts): the endpoint, and in development the demo tenant. */
interface IdeConfig {
  endpoint?: string;
  demo?: { apiKey: string; organizationId: string };
}

const config = JSON.parse(document.getElementById('mw-ide-config')?.textContent || '{}') as IdeConfig;
const endpoint = new URL(config.endpoint ?? import.meta.env['VITE_MINDWEAVE_GRAPHQL_URL'] ?? '/graphql', window.location.href);
const wsEndpoint = endpoint.href.replace(/^http/, 'ws');

const isSubscription = (query: string, operationName?: string | null) => {
  try {
    return getOperationAST(parse(query), operationName ?? undefined)?.operation === 'subscription';
  } catch {
    return false;
  }
};

/** graphql-ws yields errors as JSON; GraphiQL's types want GraphQLError instances. */
async function* results(client: Client, params: Parameters<Fetcher>[0]): AsyncGenerator<ExecutionResult> {
  const payload = {
    query: params.query,
    variables: params.variables ?? {},
    ...(params.operationName ? { operationName: params.operationName } : {}),
  };
  for await (const result of client.iterate(payload)) {
    yield {
      ...(result.data !== undefined ? { data: result.data } : {}),
      ...(result.errors
        ? { errors: result.errors.map((e) => new GraphQLError(e.message, { path: e.path, extensions: e.extensions })) }
        : {}),
    };
  }
}

/**
 * Queries and mutations over HTTP with the headers of the headers tab; subscriptions over
 * graphql-ws, whose connection carries the same Authorization header in connection_init (the
 * router reads it there), opened again when that header changes.
 */
function createFetcher(): Fetcher {
  const http = createGraphiQLFetcher({ url: endpoint.href });
  let ws: { client: Client; authorization: string | undefined } | undefined;
  return (params, options) => {
    if (!isSubscription(params.query, params.operationName)) return http(params, options);
    const headers = (options?.headers ?? {}) as Record<string, string>;
    const authorization = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
    if (!ws || ws.authorization !== authorization) {
      void ws?.client.dispose();
      ws = {
        client: createClient({ url: wsEndpoint, connectionParams: authorization ? { authorization } : {}, retryAttempts: 0 }),
        authorization,
      };
    }
    return results(ws.client, params);
  };
}

const publicQuery = `# MindWeave's GraphQL endpoint. Put an Authorization header
# (Bearer <access token or API key>) in the Headers tab below,
# then run with Ctrl-Enter.

query PublicMcpServers {
  mcpServers(first: 5) {
    totalCount
    edges { node { name slug description } }
  }
}
`;

const demoQuery = `# The demo organization, with the demo API key (Headers tab).
# Run an operation with the button: DemoUsage over HTTP,
# LiveUsage over graphql-ws (record usage to see events arrive).

query DemoUsage($organizationId: ID!, $from: DateTime!, $to: DateTime!) {
  usageSeries(organizationId: $organizationId, from: $from, to: $to, granularity: HOUR) {
    bucket
    requests
    inputTokens
    outputTokens
    costUsd
  }
}

subscription LiveUsage($organizationId: ID!) {
  usageUpdated(organizationId: $organizationId) {
    model
    inputTokens
    outputTokens
    costUsd
    occurredAt
  }
}
`;

const demoVariables = (demo: NonNullable<IdeConfig['demo']>) =>
  JSON.stringify(
    {
      organizationId: demo.organizationId,
      from: new Date(Date.now() - 86_400_000).toISOString(),
      to: new Date(Date.now() + 3_600_000).toISOString(),
    },
    null,
    2,
  );

// The key goes in the headers tab only: GraphiQL keeps headers out of localStorage unless asked to.
const headers = config.demo ? JSON.stringify({ Authorization: `Bearer ${config.demo.apiKey}` }, null, 2) : '';

createRoot(document.getElementById('ide')!).render(
  <GraphiQL
    fetcher={createFetcher()}
    initialQuery={config.demo ? demoQuery : publicQuery}
    defaultQuery={config.demo ? demoQuery : publicQuery}
    initialVariables={config.demo ? demoVariables(config.demo) : ''}
    initialHeaders={headers}
    defaultHeaders={headers}
    defaultEditorToolsVisibility="headers"
  />,
);
