import JsonWorker from 'monaco-editor/esm/vs/language/json/json.worker.js?worker';
import EditorWorker from 'monaco-editor/esm/vs/editor/editor.worker.js?worker';
import GraphQLWorker from 'monaco-graphql/esm/graphql.worker.js?worker';
import type { Environment } from 'monaco-editor';

// GraphiQL's editor (Monaco) runs its language services in these workers, which Vite bundles from
// `?worker` imports. graphiql/setup-workers/vite does the same from inside node_modules, where the
// dev server's dependency pre-bundler cannot follow `?worker`; from our own source both can.
const environment: Environment = {
  getWorker(_workerId, label) {
    if (label === 'json') return new JsonWorker();
    if (label === 'graphql') return new GraphQLWorker();
    return new EditorWorker();
  },
};
window.MonacoEnvironment = environment;
