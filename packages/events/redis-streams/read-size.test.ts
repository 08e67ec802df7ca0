import { describe, expect, it } from 'vitest';
import { packSize } from './entries.ts';
import { createReadSize } from './read-size.ts';

describe('read size: entries per read, about batchSize events', () => {
  it('starts as if every entry were a full pack', () => {
    expect(createReadSize(500).entries).toBe(500 / packSize);
    expect(createReadSize(10).entries).toBe(1);
  });

  it('grows by doubling after reads of single events, up to batchSize entries', () => {
    const size = createReadSize(500);
    const seen = [];
    for (let read = 0; read < 8; read++) {
      size.observe(1);
      seen.push(size.entries);
    }
    expect(seen).toEqual([10, 20, 40, 80, 160, 320, 500, 500]);
  });

  it('shrinks at once when a read brings packed entries', () => {
    const size = createReadSize(500);
    for (let read = 0; read < 10; read++) size.observe(1);
    expect(size.entries).toBe(500);
    size.observe(packSize);
    expect(size.entries).toBe(5);
    size.observe(250);
    expect(size.entries).toBe(2);
  });

  it('never goes below one entry', () => {
    const size = createReadSize(50);
    size.observe(packSize);
    expect(size.entries).toBe(1);
  });
});
