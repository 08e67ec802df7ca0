import { expect, it } from 'vitest';
import { isUuid, uuidSchema } from './ids.ts';

it('accepts what a PostgreSQL uuid column accepts in its canonical form, and nothing else', () => {
  for (const id of [
    '0b6e5f4c-1f0a-4c3e-9d2b-7a1e2f3c4d5e',
    '0B6E5F4C-1F0A-4C3E-9D2B-7A1E2F3C4D5E',
    '00000000-0000-0000-0000-000000000000',
  ]) {
    expect(isUuid(id), id).toBe(true);
    expect(uuidSchema.safeParse(id).success).toBe(true);
  }
  for (const id of [
    '',
    'not-a-uuid',
    '0b6e5f4c1f0a4c3e9d2b7a1e2f3c4d5e',
    '0b6e5f4c-1f0a-4c3e-9d2b-7a1e2f3c4d5',
    ' 0b6e5f4c-1f0a-4c3e-9d2b-7a1e2f3c4d5e',
    '0b6e5f4c-1f0a-4c3e-9d2b-7a1e2f3c4d5e\n',
  ]) {
    expect(isUuid(id), JSON.stringify(id)).toBe(false);
    expect(uuidSchema.safeParse(id).success).toBe(false);
  }
});
