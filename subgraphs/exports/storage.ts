import { createReadStream, createWriteStream, type ReadStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { once } from 'node:events';

/** `<organization id>/<export id>.<csv|json>`: made by the workers from ids, never from a client's input. */
const keyPattern = /^[0-9a-f-]{36}\/[0-9a-f-]{36}\.(csv|json)$/;

export const fileKeyOf = (organizationId: string, exportId: string, format: 'CSV' | 'JSON') =>
  `${organizationId}/${exportId}.${format.toLowerCase()}`;

export interface StoredFileWriter {
  stream: WriteStream;
  /** Writes, waiting while the stream's buffer is full, so that memory stays flat. */
  write(chunk: string): Promise<void>;
  /** Makes the file visible under its key; returns its size in bytes. */
  commit(): Promise<number>;
  abort(): Promise<void>;
}

/**
 * Export files in a local directory. A file is written under a temporary name and renamed when
 * complete, so that a download never sees half a file. (Another backend, S3 say, would offer the
 * same four functions.)
 */
export function createLocalStorage(root: string) {
  const base = resolve(root);
  const pathOf = (key: string) => {
    if (!keyPattern.test(key)) throw new Error(`not a storage key: ${key}`);
    return join(base, key);
  };

  async function create(key: string): Promise<StoredFileWriter> {
    const path = pathOf(key);
    const partial = `${path}.${process.pid}.part`;
    await mkdir(dirname(path), { recursive: true });
    const stream = createWriteStream(partial);
    await once(stream, 'open');
    return {
      stream,
      async write(chunk) {
        if (!stream.write(chunk)) await once(stream, 'drain');
      },
      async commit() {
        await new Promise<void>((done, fail) => stream.end((error?: Error | null) => (error ? fail(error) : done())));
        await rename(partial, path);
        return (await stat(path)).size;
      },
      async abort() {
        stream.destroy();
        await rm(partial, { force: true });
      },
    };
  }

  async function open(key: string): Promise<{ stream: ReadStream; size: number } | null> {
    const path = pathOf(key);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) return null;
    return { stream: createReadStream(path), size: info.size };
  }

  /** Removes what writers that died mid-file left (`*.part`) once older than `olderThanMs`; returns how many. */
  async function removeAbandonedParts(olderThanMs: number): Promise<number> {
    const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
    let removed = 0;
    for (const entry of entries) {
      if (!entry.isFile() || !entry.name.endsWith('.part')) continue;
      const path = join(entry.parentPath, entry.name);
      const info = await stat(path).catch(() => null);
      if (!info || Date.now() - info.mtimeMs < olderThanMs) continue;
      await rm(path, { force: true });
      removed++;
    }
    return removed;
  }

  return { root: base, create, open, remove: (key: string) => rm(pathOf(key), { force: true }), removeAbandonedParts };
}

export type Storage = ReturnType<typeof createLocalStorage>;
