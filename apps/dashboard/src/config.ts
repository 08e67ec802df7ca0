/**
 * The router's GraphQL endpoint: VITE_MINDWEAVE_GRAPHQL_URL at build time, else /graphql on the
 * page's own origin (the router that serves the app, or the dev and preview servers' proxy).
 */
export const graphqlUrl = new URL(import.meta.env['VITE_MINDWEAVE_GRAPHQL_URL'] || '/graphql', window.location.href).href;

/** Where the app lives (Vite's base, /dashboard/ by default), with its trailing slash. */
export const basePath = import.meta.env.BASE_URL;
