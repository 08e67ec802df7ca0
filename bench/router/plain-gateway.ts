// The baseline: @apollo/server + @apollo/gateway over the same supergraph and subgraphs, with no
// authentication, cost analysis or rate limiting. Every subgraph call carries one fixed user,
// signed, because the subgraphs refuse unsigned requests: that is the cheapest identity forwarding.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer, HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';
import { signIdentity, type Identity } from '@mindweave/service-kit';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`plain gateway: ${name} is not set`);
  return value;
}

/** `identity=http://...,accounts=http://...` as a map. */
function parseSubgraphUrls(value: string): Map<string, string> {
  return new Map(
    value
      .split(',')
      .filter(Boolean)
      .map((pair) => pair.split('=', 2) as [string, string]),
  );
}

type Fetcher = NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher'];

/**
 * Apollo's default subgraph fetcher (make-fetch-happen) unless BENCH_PLAIN_FETCHER=global, which
 * uses Node's built-in fetch: that separates the cost of the fetcher from the router's own work.
 */
function chooseFetcher(): Fetcher | undefined {
  const choice = process.env['BENCH_PLAIN_FETCHER'] ?? 'default';
  if (choice === 'default') return undefined;
  if (choice === 'global') return globalThis.fetch as unknown as Fetcher;
  throw new Error(`plain gateway: BENCH_PLAIN_FETCHER must be "default" or "global", not "${choice}"`);
}

class FixedIdentityDataSource extends RemoteGraphQLDataSource {
  constructor(
    url: string,
    private readonly secret: string,
    private readonly identity: Identity,
    fetcher: Fetcher | undefined,
  ) {
    // An undefined fetcher would replace the default one: leave the key out instead.
    super(fetcher ? { url, fetcher } : { url });
    // The signature covers the body, which only the fetcher sees serialized: sign there.
    const send = this.fetcher;
    this.fetcher = (target, init = {}) =>
      send(target, { ...init, headers: { ...init.headers, ...signIdentity(this.secret, this.identity, randomUUID(), init.body ?? '') } });
  }
}

function createGateway(supergraphSdl: string, subgraphUrls: Map<string, string>, secret: string, identity: Identity) {
  const fetcher = chooseFetcher();
  return new ApolloGateway({
    supergraphSdl,
    buildService: ({ name }) => {
      // Never fall back to the supergraph's routing URL: that may be a development stack.
      const url = subgraphUrls.get(name);
      if (!url) throw new Error(`plain gateway: no URL for subgraph "${name}" in SUBGRAPH_URLS`);
      return new FixedIdentityDataSource(url, secret, identity, fetcher);
    },
  });
}

/**
 * @apollo/gateway refuses a supergraph with SECURITY features (@authenticated, @requiresScopes) it
 * cannot enforce. The baseline enforces no authorization at all, so it takes the links without
 * that purpose, as the router does once its own edge has enforced them.
 */
const withoutSecurityPurpose = (supergraphSdl: string) => supergraphSdl.replace(/(@link\(url: "[^"]+"), for: SECURITY\)/g, '$1)');

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

async function writeResponse(res: ServerResponse, response: HTTPGraphQLResponse) {
  res.statusCode = response.status ?? 200;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  if (response.body.kind === 'complete') return void res.end(response.body.string);
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

async function main() {
  const port = Number(requiredEnv('PORT'));
  const secret = requiredEnv('INTERNAL_SIGNING_SECRET');
  const identity: Identity = { kind: 'user', userId: requiredEnv('BENCH_USER_ID') };
  const supergraphSdl = withoutSecurityPurpose(await readFile(requiredEnv('SUPERGRAPH_PATH'), 'utf8'));
  const gateway = createGateway(supergraphSdl, parseSubgraphUrls(requiredEnv('SUBGRAPH_URLS')), secret, identity);
  // Same HTTP layer and production settings as the router, so that the comparison isolates what
  // the router adds on top of the gateway.
  const apollo = new ApolloServer({ gateway, introspection: false, csrfPrevention: false });
  await apollo.start();

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://plain');
    if (url.pathname === '/health') return void res.end('ok');
    try {
      const headers = new HeaderMap();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      const response = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
        context: async () => ({}),
      });
      await writeResponse(res, response);
    } catch (error) {
      process.stderr.write(`plain gateway: request failed: ${String(error)}\n`);
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => process.stdout.write(`plain gateway ready on ${port}\n`));

  const shutdown = () => {
    server.close();
    server.closeAllConnections();
    apollo.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

await main();
