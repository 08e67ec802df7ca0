import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { baseEnv, ConfigError, flag, parseEnv, port } from './config.ts';

describe('parseEnv', () => {
  it('applies the developer defaults', () => {
    const env = parseEnv({ ...baseEnv, PORT: port(4000) }, {});
    expect(env).toMatchObject({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/mindweave', REDIS_URL: 'redis://127.0.0.1:6379', PORT: 4000 });
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
