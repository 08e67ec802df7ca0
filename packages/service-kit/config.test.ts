import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { baseEnv, ConfigError, flag, kafkaEnv, kafkaSettingsOf, parseEnv, port } from './config.ts';

describe('parseEnv', () => {
  it('applies the developer defaults', () => {
    const env = parseEnv({ ...baseEnv, PORT: port(4000) }, {});
    expect(env).toMatchObject({
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/mindweave',
      REDIS_URL: 'redis://127.0.0.1:6379',
      PORT: 4000,
    });
  });

  it('names every bad or missing variable at once', () => {
    const shape = { ...baseEnv, PORT: port(4000), REQUIRED_THING: z.string() };
    try {
      parseEnv(shape, { DATABASE_URL: 'mysql://x', PORT: 'eighty' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems).toHaveLength(3);
      expect(problems.join('\n')).toMatch(/DATABASE_URL: /);
      expect(problems.join('\n')).toMatch(/PORT: /);
      expect(problems.join('\n')).toMatch(/REQUIRED_THING: missing/);
    }
  });

  it('refuses the development signing secret in production', () => {
    expect(() => parseEnv(baseEnv, { NODE_ENV: 'production' })).toThrow(/INTERNAL_SIGNING_SECRET/);
    expect(parseEnv(baseEnv, { NODE_ENV: 'production', INTERNAL_SIGNING_SECRET: 's'.repeat(40) }).NODE_ENV).toBe('production');
  });

  it('reads flags as true/false or 1/0', () => {
    const shape = { ON: flag(false), OFF: flag(true) };
    expect(parseEnv(shape, {})).toEqual({ ON: false, OFF: true });
    expect(parseEnv(shape, { ON: '1', OFF: 'false' })).toEqual({ ON: true, OFF: false });
    expect(() => parseEnv(shape, { ON: 'yes' })).toThrow(ConfigError);
  });
});

describe('Kafka settings', () => {
  it('are undefined without brokers (Redis Streams), and default to 6 partitions, 3 copies, no TLS', () => {
    expect(kafkaSettingsOf(parseEnv(kafkaEnv, {}))).toBeUndefined();
    expect(kafkaSettingsOf(parseEnv(kafkaEnv, { KAFKA_BROKERS: 'a:9092, b:9092' }))).toEqual({
      brokers: ['a:9092', 'b:9092'],
      ssl: undefined,
      sasl: undefined,
      topicPartitions: 6,
      replicationFactor: 3,
    });
  });

  it('carry TLS and SASL for managed clusters', () => {
    const caFile = join(mkdtempSync(join(tmpdir(), 'kafka-ca-')), 'ca.pem');
    writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n...');
    const env = parseEnv(kafkaEnv, {
      KAFKA_BROKERS: 'k:9093',
      KAFKA_SSL_CA_FILE: caFile,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: 'pw',
      KAFKA_REPLICATION_FACTOR: '1',
    });
    expect(kafkaSettingsOf(env)).toMatchObject({
      ssl: { ca: '-----BEGIN CERTIFICATE-----\n...' },
      sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 'pw' },
      replicationFactor: 1,
    });
    expect(kafkaSettingsOf(parseEnv(kafkaEnv, { KAFKA_BROKERS: 'k:9093', KAFKA_SSL: 'true' }))?.ssl).toBe(true);
  });

  it('refuse SASL without credentials, and an unreadable CA file, naming the variables', () => {
    expect(() => parseEnv(kafkaEnv, { KAFKA_BROKERS: 'k:9093', KAFKA_SASL_MECHANISM: 'plain' })).toThrow(
      /KAFKA_SASL_USERNAME: missing[\s\S]*KAFKA_SASL_PASSWORD: missing/,
    );
    expect(() => parseEnv(kafkaEnv, { KAFKA_BROKERS: 'k:9093', KAFKA_SSL_CA_FILE: '/nowhere/ca.pem' })).toThrow(
      /KAFKA_SSL_CA_FILE: cannot be read/,
    );
    expect(() => parseEnv(kafkaEnv, { KAFKA_BROKERS: 'k:9093', KAFKA_SASL_MECHANISM: 'kerberos' })).toThrow(/KAFKA_SASL_MECHANISM/);
  });
});
