import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { observeConsumerLag } from '@mindweave/events';
import { observeQueues } from '@mindweave/jobs';
import { createLogger, createServiceMetrics, parseEnv } from '@mindweave/service-kit';
import { telemetryEnv } from '@mindweave/telemetry';
import { startSubgraphServer } from '../packages/subgraph-kit/server.ts';
import { createMetrics } from '../router/metrics.ts';
import { builtEntryOf, packageOf, preloadOf, repoRoot, services, type Service } from '../scripts/stack.ts';

// compose.yaml and the Kubernetes manifests are written by hand: this keeps them true to the code.
// Every process they run must be one of the stack's services (scripts/stack.ts), started at its
// built entry, listening on the port its environment names, probed on its health routes, and given
// only variables its env module validates, with values that pass that validation in production.

type Shape = Parameters<typeof parseEnv>[0];
/** Each service's environment schema (its env.ts). */
async function shapeOf(name: string): Promise<Shape> {
  switch (name) {
    case 'identity':
      return (await import('../subgraphs/identity/env.ts')).identityEnv;
    case 'accounts':
      return (await import('../subgraphs/accounts/env.ts')).accountsEnv;
    case 'usage':
      return (await import('../subgraphs/usage/env.ts')).usageEnv;
    case 'analytics':
    case 'analytics-consumer':
      return (await import('../subgraphs/analytics/env.ts')).analyticsEnv;
    case 'governance':
    case 'governance-consumer':
      return (await import('../subgraphs/governance/env.ts')).governanceEnv;
    case 'mcp-registry':
      return (await import('../subgraphs/mcp-registry/env.ts')).mcpRegistryEnv;
    case 'exports':
      return (await import('../subgraphs/exports/env.ts')).exportsEnv;
    case 'webhooks':
      return (await import('../subgraphs/webhooks/env.ts')).webhooksEnv;
    case 'workers':
      return (await import('../workers/env.ts')).workersEnv;
    case 'router':
      return (await import('../router/env.ts')).routerEnv;
    default:
      throw new Error(`no env module for ${name}`);
  }
}

const serviceNamed = (name: string): Service => {
  const service = services.find((s) => s.name === name);
  if (!service) throw new Error(`${name} is not a service of scripts/stack.ts`);
  return service;
};
const defaultPort = (service: Service) => 4000 + service.offset;

/** What an operator would put for `${VAR:?...}` and `${VAR:-default}`: valid values. */
const placeholders: Record<string, string> = {
  INTERNAL_SIGNING_SECRET: 'x'.repeat(64),
  SECRETS_KEY: Buffer.alloc(32, 7).toString('base64'),
  ADMIN_PASSWORD: 'operator-password',
  SMTP_URL: 'smtp://mail.internal:587',
};
const interpolate = (value: string) =>
  value.replace(
    /\$\{(\w+)(?::?[-?]([^}]*))?\}/g,
    (_match, name: string, fallback: string | undefined) =>
      placeholders[name] ?? (fallback !== undefined && !/^set /.test(fallback) ? fallback : 'x'),
  );

/** A process as a deployment runs it: its command, its environment and the port it is reached on. */
interface Process {
  name: string;
  command: string[];
  environment: Record<string, string>;
  port: number;
}

/** The entry a command runs, and that it is the service's built entry, which the build emits from a source that exists. */
function expectRealEntry(process: Process) {
  const service = serviceNamed(process.name);
  const [node, ...args] = process.command;
  expect(node, process.name).toBe('node');
  const entry = args.at(-1)!;
  expect(entry, process.name).toBe(builtEntryOf(service.entry));
  expect(existsSync(join(repoRoot, service.entry)), `${service.entry} exists`).toBe(true);
  // Node flags the stack runs it with (heap sizes) are kept, then the tracing preload, from the
  // package's own dependencies (which pnpm deploy copies into the image).
  expect(args.slice(0, -1), process.name).toEqual([
    ...('nodeArgs' in service ? service.nodeArgs : []),
    '--import',
    preloadOf(service, 'image'),
  ]);
  const manifest = JSON.parse(readFileSync(join(repoRoot, packageOf(service), 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  expect(manifest.dependencies?.['@mindweave/telemetry'], `${packageOf(service)} depends on @mindweave/telemetry`).toBe('workspace:*');
}

async function expectValidEnvironment(process: Process, shared: Record<string, string> = {}) {
  const service = serviceNamed(process.name);
  // The OTEL_* variables are every service's: the tracing preload reads them.
  const shape = { ...telemetryEnv, ...(await shapeOf(process.name)) };
  const environment = { ...shared, ...process.environment };
  // Settings of the runtime rather than the service (glibc's malloc), as the stack runs it with.
  const runtimeEnv: Record<string, string> = 'runtimeEnv' in service ? service.runtimeEnv : {};
  for (const [name, value] of Object.entries(runtimeEnv)) expect(environment[name], `${process.name}'s ${name}`).toBe(value);
  const unknown = Object.keys(environment).filter((name) => !(name in shape) && !(name in runtimeEnv));
  expect(unknown, `variables ${process.name} does not read`).toEqual([]);
  expect(Number(environment[service.portVar]), `${process.name}'s ${service.portVar}`).toBe(process.port);
  expect(process.port, `${process.name}'s port`).toBe(defaultPort(service));
  // The values pass the service's own validation, production's checks included.
  expect(() => parseEnv(shape, { ...environment, NODE_ENV: 'production' }), process.name).not.toThrow();
}

describe('compose.yaml', () => {
  type ComposeService = {
    command?: string[];
    environment?: Record<string, string>;
    ports?: string[];
    healthcheck?: { test: string[] };
    build?: { args?: { PACKAGE?: string } };
    image?: string;
    profiles?: string[];
  };
  const compose = parse(readFileSync(join(repoRoot, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const own = Object.entries(compose.services).filter(([, service]) => service.command?.[0] === 'node');

  it('runs every service of the stack, and only those', () => {
    expect(own.map(([name]) => name).sort()).toEqual(services.map((s) => s.name).sort());
    expect(
      Object.keys(compose.services)
        .filter((name) => !services.some((s) => s.name === name))
        .sort(),
    ).toEqual(['grafana', 'kafka', 'postgres', 'prometheus', 'redis']);
  });

  it.each(own.map(([name]) => name))(
    'starts %s at its built entry, on its port, with variables it validates, probed on its readiness',
    async (name) => {
      const service = compose.services[name]!;
      const environment = Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([key, value]) => [key, interpolate(String(value))]),
      );
      const port = Number(environment[serviceNamed(name).portVar]);
      const process: Process = { name, command: service.command!, environment, port };
      expectRealEntry(process);
      await expectValidEnvironment(process);
      // The image of the package the entry belongs to.
      expect(builtEntryOf(serviceNamed(name).entry).startsWith(`${service.build?.args?.PACKAGE}/`), name).toBe(true);
      expect(service.healthcheck?.test.join(' '), name).toContain(`http://127.0.0.1:${port}/health/ready`);
    },
  );

  it('publishes the router on :4000, with Kafka and the observability tools behind profiles', () => {
    expect(compose.services['router']?.ports).toEqual(['4000:4000']);
    expect(compose.services['kafka']?.profiles).toEqual(['kafka']);
    expect(compose.services['prometheus']?.profiles).toEqual(['observability']);
    expect(compose.services['grafana']?.profiles).toEqual(['observability']);
    const redis = compose.services['redis'] as { command?: string[] };
    expect(redis.command?.join(' ')).toContain('--appendonly yes');
  });
});

describe('Kubernetes manifests', () => {
  type Container = {
    name: string;
    command: string[];
    ports: { name: string; containerPort: number }[];
    env: { name: string; value?: string }[];
    livenessProbe: { httpGet: { path: string; port: string } };
    readinessProbe: { httpGet: { path: string; port: string } };
    image: string;
  };
  type Manifest = {
    kind: string;
    metadata: { name: string };
    spec: {
      template?: { metadata?: { annotations?: Record<string, string> }; spec: { containers: Container[] } };
      ports?: { port: number }[];
    };
    data?: Record<string, string>;
    stringData?: Record<string, string>;
  };
  const read = (file: string) =>
    parseAllDocuments(readFileSync(join(repoRoot, 'deploy/kubernetes', file), 'utf8'))
      .map((document) => document.toJS() as Manifest)
      .filter(Boolean);
  const manifests = [...read('mindweave.yaml'), ...read('config.yaml')];
  const deployments = manifests.filter((m) => m.kind === 'Deployment');
  const config = manifests.find((m) => m.kind === 'ConfigMap')!.data!;
  const secret = manifests.find((m) => m.kind === 'Secret')!.stringData!;

  it('deploy every service of the stack, each behind a Service on its port', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(services.map((s) => s.name).sort());
    for (const deployment of deployments) {
      const service = manifests.find((m) => m.kind === 'Service' && m.metadata.name === deployment.metadata.name);
      expect(service?.spec.ports?.[0]?.port, deployment.metadata.name).toBe(defaultPort(serviceNamed(deployment.metadata.name)));
    }
  });

  it.each(deployments.map((d) => d.metadata.name))(
    'start %s at its built entry, with variables it validates, probed on its health routes, scraped on its port',
    async (name) => {
      const template = deployments.find((d) => d.metadata.name === name)!.spec.template!;
      const container = template.spec.containers[0]!;
      // Prometheus' pod annotations: /metrics is served on the port of the health routes.
      expect(template.metadata?.annotations, name).toEqual({
        'prometheus.io/scrape': 'true',
        'prometheus.io/path': '/metrics',
        'prometheus.io/port': String(container.ports[0]!.containerPort),
      });
      // The Secret is a template: an operator's values stand in for its references.
      const environment = Object.fromEntries(
        container.env.map(({ name: variable, value }) => [variable, value ?? placeholders[variable] ?? secret[variable] ?? 'x']),
      );
      const process: Process = { name, command: container.command, environment, port: container.ports[0]!.containerPort };
      expectRealEntry(process);
      await expectValidEnvironment(process, config);
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
      expect(container.image).toBe(`mindweave/${builtEntryOf(serviceNamed(name).entry).split('/dist/')[0]!.split('/').at(-1)}:latest`);
    },
  );
});

describe('Dockerfile', () => {
  it('builds with the script the test command runs (scripts/image.sh), as a non-root user, node as PID 1', () => {
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/RUN bash scripts\/image\.sh \/app "\$PACKAGE"/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/exec node --import \\"\.\/\$MINDWEAVE_PACKAGE\/node_modules\/@mindweave\/telemetry\/dist\/register\.js\\"/);
    expect(readFileSync(join(repoRoot, 'scripts/test.sh'), 'utf8')).toMatch(/bash scripts\/image\.sh/);
  });
});

/** Every metric family the services register, with its labels, by the code that registers them. */
async function metricFamiliesOfCode(): Promise<Map<string, string[]>> {
  const metrics = createServiceMetrics();
  observeConsumerLag(metrics, { lag: async () => [] });
  observeQueues(metrics, {} as Parameters<typeof observeQueues>[1], []);
  const router = createMetrics();
  router.observeConcurrency(() => ({ limit: 0, active: 0, waiting: 0 }));
  // A subgraph's server registers its own: started on a free port, as a subgraph starts it.
  const subgraph = await startSubgraphServer({
    name: 'probe',
    port: 0,
    schema: buildSchema('type Query { ok: Boolean }'),
    signingSecret: 'x'.repeat(64),
    production: true,
    log: createLogger({ name: 'probe', level: 'silent' }),
    healthChecks: {},
  });
  await subgraph.close();
  const families = [metrics.registry, router.registry, subgraph.metrics.registry].flatMap((registry) =>
    registry.getMetricsAsArray().map((metric: { name: string; labelNames?: string[] }) => [metric.name, metric.labelNames ?? []] as const),
  );
  return new Map(families);
}

/** The metric names a PromQL expression reads: what is left once groupings, matchers, ranges, strings, functions and keywords are taken out. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '');
  return [...bare.matchAll(/\b([a-zA-Z_:][\w:]*)\b(?!\s*\()/g)]
    .map((match) => match[1]!)
    .filter((name) => !['by', 'without', 'and', 'or', 'unless', 'bool', 'offset'].includes(name));
}

describe('observability', () => {
  type ComposeService = {
    command?: string[];
    environment?: Record<string, string>;
    healthcheck?: { test: string[] };
    volumes?: string[];
    image?: string;
  };
  const compose = parse(readFileSync(join(repoRoot, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const observability = join(repoRoot, 'deploy/observability');
  const prometheus = parse(readFileSync(join(observability, 'prometheus.yml'), 'utf8')) as {
    scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
  };

  it('prometheus.yml scrapes every service of compose.yaml, by its name, on the port of its health routes, one job each', () => {
    const targets = prometheus.scrape_configs.map((job) => ({
      job: job.job_name,
      path: job.metrics_path ?? '/metrics',
      targets: job.static_configs.flatMap((c) => c.targets),
    }));
    expect(targets.map((t) => t.job).sort()).toEqual(services.map((s) => s.name).sort());
    for (const {
      job,
      path,
      targets: [target, ...more],
    } of targets) {
      expect(more, job).toEqual([]);
      expect(path, job).toBe('/metrics');
      const [host, port] = target!.split(':');
      expect(host, job).toBe(job);
      const service = compose.services[host!];
      expect(service?.command?.[0], `${host} is a node service of compose.yaml`).toBe('node');
      // The port the service listens on (its env, checked against the code above) is where its health routes and /metrics are.
      expect(Number(interpolate(String(service!.environment![serviceNamed(host!).portVar]))), job).toBe(Number(port));
      expect(service!.healthcheck?.test.join(' '), job).toContain(`http://127.0.0.1:${port}/health/ready`);
    }
  });

  it("compose mounts the scrape config, Grafana's provisioning and its dashboards where they are read", () => {
    expect(compose.services['prometheus']?.volumes).toContain('./deploy/observability/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    const mounts = Object.fromEntries(
      (compose.services['grafana']?.volumes ?? []).map((volume) => volume.split(':').slice(0, 2) as [string, string]),
    );
    expect(mounts['./deploy/observability/grafana/provisioning']).toBe('/etc/grafana/provisioning');
    const provider = parse(readFileSync(join(observability, 'grafana/provisioning/dashboards/mindweave.yml'), 'utf8')) as {
      providers: { type: string; options: { path: string } }[];
    };
    expect(mounts['./deploy/observability/grafana/dashboards']).toBe(provider.providers[0]!.options.path);
    const datasources = parse(readFileSync(join(observability, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(datasources.datasources).toMatchObject([{ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' }]);
    expect(compose.services['prometheus']?.image).toMatch(/^prom\/prometheus:/);
  });

  it('the dashboard parses, and every query reads metrics the code registers, from the provisioned data source', async () => {
    type Panel = { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string; datasource?: { uid: string } }[] };
    const dashboard = JSON.parse(readFileSync(join(observability, 'grafana/dashboards/mindweave.json'), 'utf8')) as {
      uid: string;
      title: string;
      panels: Panel[];
    };
    expect(dashboard.uid).toBe('mindweave');
    const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    const known = await metricFamiliesOfCode();
    // Histograms are read through their series; `up` is Prometheus' own.
    const exists = (name: string) => name === 'up' || known.has(name) || known.has(name.replace(/_(bucket|sum|count)$/, ''));
    const read = new Set<string>();
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      expect(panel.datasource?.uid, panel.title).toBe('prometheus');
      for (const target of panel.targets!) {
        const names = metricNamesIn(target.expr);
        expect(names.length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
        for (const name of names) {
          expect(exists(name), `${panel.title}: ${name} is registered by no service`).toBe(true);
          read.add(name.replace(/_(bucket|sum|count)$/, ''));
        }
      }
    }
    // Each area of the contract's metrics is on the dashboard.
    for (const family of [
      'mw_router_operation_duration_seconds',
      'mw_router_operation_errors_total',
      'mw_subgraph_operation_duration_seconds',
      'mw_subgraph_operation_errors_total',
      'mw_consumer_lag',
      'mw_consumer_dead_lettered',
      'mw_queue_jobs',
      'mw_job_duration_seconds',
      'mw_job_failures_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(read, family).toContain(family);
    }
  });

  it('registers no label that Prometheus sets on every series itself (job, instance)', async () => {
    const clashing = [...(await metricFamiliesOfCode())].filter(([, labels]) =>
      labels.some((label) => label === 'job' || label === 'instance'),
    );
    expect(clashing).toEqual([]);
  });

  it('reads metric names out of PromQL', () => {
    expect(
      metricNamesIn('histogram_quantile(0.95, sum by (le, job) (rate(mw_x_bucket{code!~"A|B"}[$__rate_interval]))) / sum(up)'),
    ).toEqual(['mw_x_bucket', 'up']);
  });
});
