import { readFile } from 'node:fs/promises';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config, { manifestFile, presetManifestFile } from './codegen.ts';

describe('the generated SDK', () => {
  it('matches its operations and the committed supergraph (run `pnpm schema compose` or `pnpm --filter @mindweave/sdk codegen` when this fails)', async () => {
    const outputs = (await generate({ ...config, hooks: {}, silent: true }, false)) as { filename: string; content: string }[];
    expect(outputs.map((o) => o.filename)).toContain(presetManifestFile);
    for (const { filename, content } of outputs) {
      const path = filename === presetManifestFile ? manifestFile : filename;
      expect(await readFile(path, 'utf8').catch(() => ''), path).toBe(content);
    }
  }, 30_000);
});
