import { describe, expect, it } from 'vitest';
import { createPassingFailures } from './passing-failures.ts';

describe('passing failures: counts per entry, bounded', () => {
  it('counts from zero, remembers and forgets', () => {
    const failures = createPassingFailures();
    expect(failures.count('1-0')).toBe(0);
    failures.remember('1-0', 3);
    expect(failures.count('1-0')).toBe(3);
    failures.forget('1-0');
    expect(failures.count('1-0')).toBe(0);
    expect(failures.size).toBe(0);
  });

  it('forgets the least recently remembered entry past its limit', () => {
    const failures = createPassingFailures(2);
    failures.remember('a', 1);
    failures.remember('b', 1);
    failures.remember('a', 2);
    failures.remember('c', 1);
    expect([failures.count('a'), failures.count('b'), failures.count('c')]).toEqual([2, 0, 1]);
    expect(failures.size).toBe(2);
  });
});
