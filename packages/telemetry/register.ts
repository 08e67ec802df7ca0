// The preload every service runs with (`node --import <this module> main.js`), so that the
// instrumentations can patch modules before the service imports them. Without an exporter
// configured it does nothing: the SDK is not even loaded, and code calling @opentelemetry/api gets
// its no-op tracer.
import { tracesWanted, tracingSettings } from './settings.ts';

if (tracesWanted(process.env)) {
  const { startTracing } = await import('./sdk.ts');
  await startTracing(tracingSettings(process.env, process.argv[1]));
}
