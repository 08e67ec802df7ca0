// The baseline, as the public benchmark runs it: @apollo/gateway inside @apollo/server's standalone
// server over SUPERGRAPH_PATH, on PORT, with no plugins and nothing configured.
import { readFileSync } from 'node:fs';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

// tsx, which runs this file, turns source-mapped stack traces on; the published benchmark runs
// compiled JavaScript on plain node, and make-fetch-happen's agent reads a stack on every request.
process.setSourceMapsEnabled(false);

const supergraphPath = process.env['SUPERGRAPH_PATH'];
const port = Number(process.env['PORT']);
if (!supergraphPath || !Number.isInteger(port)) throw new Error('apollo gateway: SUPERGRAPH_PATH and PORT must be set');

const server = new ApolloServer({ gateway: new ApolloGateway({ supergraphSdl: readFileSync(supergraphPath, 'utf8') }) });
const { url } = await startStandaloneServer(server, { listen: { port, host: '127.0.0.1' } });
process.stdout.write(`apollo gateway ready at ${url}\n`);

const stop = () => void server.stop().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
