import { z } from 'zod';

/**
 * The standard OpenTelemetry variables this package reads (the SDK reads a few more itself, such as
 * OTEL_BSP_* and OTEL_EXPORTER_OTLP_TIMEOUT). Every service accepts them: the preload, not the
 * service's env module, acts on them.
 */
export const telemetryEnv = {
  OTEL_SDK_DISABLED: z.enum(['true', 'false', '']).optional(),
  OTEL_SERVICE_NAME: z.string().optional(),
  OTEL_RESOURCE_ATTRIBUTES: z.string().optional(),
  /** `otlp` (the default once an endpoint is set), `console`, or `none`. */
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'console', 'none', '']).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json', '']).optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.enum(['http/protobuf', 'http/json', '']).optional(),
  OTEL_EXPORTER_OTLP_HEADERS: z.string().optional(),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: z.string().optional(),
  OTEL_TRACES_SAMPLER: z
    .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio', ''])
    .optional(),
  OTEL_TRACES_SAMPLER_ARG: z.string().optional(),
  OTEL_BSP_SCHEDULE_DELAY: z.string().optional(),
};

type Source = Record<string, string | undefined>;
const set = (value: string | undefined) => (value?.trim() ? value.trim() : undefined);

/**
 * Whether traces are exported at all: an OTLP endpoint is configured, or OTEL_TRACES_EXPORTER names
 * an exporter, and OTEL_SDK_DISABLED is not `true`. Plain string checks, so that deciding costs
 * nothing when tracing is off (the SDK is never loaded then).
 */
export function tracesWanted(env: Source): boolean {
  if (set(env['OTEL_SDK_DISABLED'])?.toLowerCase() === 'true') return false;
  const exporter = set(env['OTEL_TRACES_EXPORTER']);
  if (exporter) return exporter !== 'none';
  return set(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) !== undefined || set(env['OTEL_EXPORTER_OTLP_ENDPOINT']) !== undefined;
}

export interface TracingSettings {
  serviceName: string;
  exporter: 'otlp' | 'console';
  protocol: 'http/protobuf' | 'http/json';
  /**
   * The service passes trace context explicitly (the router): no AsyncLocalStorage context manager,
   * whose async hooks on Node 20 run on every promise, and no instrumentation that needs the active
   * context. Decided by the entry script, not OTEL_SERVICE_NAME, which only renames.
   */
  explicitContext: boolean;
}

/** The settings of a process that traces, validated; throws naming every bad variable. */
export function tracingSettings(env: Source, script: string | undefined): TracingSettings {
  const result = z.object(telemetryEnv).safeParse(env);
  if (!result.success)
    throw new Error(
      `Invalid OpenTelemetry configuration:\n${result.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  const parsed = result.data;
  const entry = serviceNameOf(script);
  return {
    serviceName: set(parsed.OTEL_SERVICE_NAME) ?? entry,
    exporter: set(parsed.OTEL_TRACES_EXPORTER) === 'console' ? 'console' : 'otlp',
    protocol: (set(parsed.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ??
      set(parsed.OTEL_EXPORTER_OTLP_PROTOCOL) ??
      'http/protobuf') as TracingSettings['protocol'],
    // MW_TRACING_IMPLICIT_CONTEXT=true gives the router the default context manager back: only to
    // measure what it cost (bench:tracing), since the router's spans do not use it.
    explicitContext: entry === 'router' && set(env['MW_TRACING_IMPLICIT_CONTEXT']) !== 'true',
  };
}

/**
 * A service's name from the script node runs: `subgraphs/usage/dist/main.js` is `usage`, its
 * `consumer.js` is `usage-consumer`, `router/main.ts` is `router` (the names of scripts/stack.ts).
 */
export function serviceNameOf(script: string | undefined): string {
  const match = /(?:^|[\\/])(?:subgraphs[\\/])?([\w-]+)[\\/](?:dist[\\/])?(main|consumer)\.[cm]?[jt]s$/.exec(script ?? '');
  if (!match) return 'mindweave';
  return match[2] === 'consumer' ? `${match[1]}-consumer` : match[1]!;
}
