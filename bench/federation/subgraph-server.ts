// One subgraph of the federation benchmark: `node --import tsx bench/federation/subgraph-server.ts
// <accounts|inventory|products|reviews>` on PORT. A bare node:http server around graphql-js, with
// each document parsed and validated once, so that the subgraphs cost the gateways little CPU.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { execute, GraphQLError, parse, validate, type DocumentNode, type ExecutionResult } from 'graphql';
import { isSubgraphName, subgraphs } from './subgraphs/index.ts';

interface GraphQLRequest {
  query?: unknown;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function createSubgraphServer(name: string) {
  if (!isSubgraphName(name)) throw new Error(`unknown subgraph "${name}"; expected one of ${Object.keys(subgraphs).join(', ')}`);
  const schema = buildSubgraphSchema(subgraphs[name]);
  // Gateways send a handful of distinct documents, again and again.
  const documents = new Map<string, DocumentNode | readonly GraphQLError[]>();
  // Between POST /_record and GET /_record, the bodies received, so that the runner can learn what
  // one gateway request costs this subgraph and replay exactly that.
  let recorded: string[] | null = null;

  function documentOf(query: string): DocumentNode | readonly GraphQLError[] {
    let document = documents.get(query);
    if (!document) {
      try {
        const parsed = parse(query);
        const errors = validate(schema, parsed);
        document = errors.length ? errors : parsed;
      } catch (error) {
        document = [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
      }
      if (documents.size < 1_000) documents.set(query, document);
    }
    return document;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (req.method === 'GET' && req.url === '/health') return send(res, 200, '{"status":"ok"}');
    if (req.url === '/_record') {
      if (req.method === 'POST') recorded = [];
      send(res, 200, JSON.stringify(recorded ?? []));
      if (req.method === 'GET') recorded = null;
      return;
    }
    if (req.method !== 'POST') return send(res, 405, '{"errors":[{"message":"POST a GraphQL request"}]}');
    let request: GraphQLRequest;
    try {
      const body = await readBody(req);
      recorded?.push(body);
      request = JSON.parse(body) as GraphQLRequest;
    } catch {
      return send(res, 400, '{"errors":[{"message":"The body is not JSON"}]}');
    }
    if (typeof request.query !== 'string') return send(res, 400, '{"errors":[{"message":"No query"}]}');
    const document = documentOf(request.query);
    if (!('kind' in document)) return send(res, 400, JSON.stringify({ errors: document }));
    const result: ExecutionResult = await execute({
      schema,
      document,
      variableValues: request.variables,
      operationName: request.operationName,
    });
    send(res, 200, JSON.stringify(result));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      process.stderr.write(`${name}: ${String(error)}\n`);
      if (!res.headersSent) send(res, 500, '{"errors":[{"message":"Internal server error"}]}');
    });
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

async function main() {
  const name = process.argv[2] ?? '';
  const port = Number(process.env['PORT']);
  if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must be set to the port to listen on');
  const server = createSubgraphServer(name);
  server.listen(port, '127.0.0.1', () => process.stdout.write(`${name} subgraph ready on ${port}\n`));
  const stop = () => {
    server.close();
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

await main();
