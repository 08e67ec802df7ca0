import { describe, expect, it } from 'vitest';
import { serviceNameOf, tracesWanted, tracingSettings } from './settings.ts';

describe('tracesWanted', () => {
  it('is off unless an endpoint or an exporter is set, and OTEL_SDK_DISABLED wins', () => {
    expect(tracesWanted({})).toBe(false);
    expect(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBe(false);
    expect(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracesWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracesWanted({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(tracesWanted({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(false);
    expect(tracesWanted({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(false);
  });
});

describe('tracingSettings', () => {
  it('names the service after its entry unless OTEL_SERVICE_NAME does, and takes the protocol', () => {
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, '/app/subgraphs/analytics/dist/consumer.js')).toEqual({
      serviceName: 'analytics-consumer',
      exporter: 'otlp',
      protocol: 'http/protobuf',
      explicitContext: false,
    });
    expect(
      tracingSettings({ OTEL_SERVICE_NAME: 'edge', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, '/app/router/dist/main.js'),
    ).toMatchObject({ serviceName: 'edge', protocol: 'http/json', explicitContext: true });
    expect(
      tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', MW_TRACING_IMPLICIT_CONTEXT: 'true' }, '/app/router/dist/main.js'),
    ).toMatchObject({ serviceName: 'router', explicitContext: false });
  });

  it('refuses what it cannot honour, naming the variable', () => {
    expect(() => tracingSettings({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, undefined)).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL/);
    expect(() => tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, undefined)).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });
});

describe('serviceNameOf', () => {
  it('follows the names of scripts/stack.ts, from source and from the build', () => {
    expect(serviceNameOf('/repo/router/main.ts')).toBe('router');
    expect(serviceNameOf('/app/router/dist/main.js')).toBe('router');
    expect(serviceNameOf('/repo/subgraphs/usage/main.ts')).toBe('usage');
    expect(serviceNameOf('/repo/subgraphs/governance/consumer.ts')).toBe('governance-consumer');
    expect(serviceNameOf('/app/workers/dist/main.js')).toBe('workers');
    expect(serviceNameOf(undefined)).toBe('mindweave');
  });
});
