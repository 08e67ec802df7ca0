import { describe, expect, it } from 'vitest';
import { expiryOf } from './session.ts';

const jwt = (payload: object) => `header.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.signature`;

describe('expiryOf', () => {
  it('reads exp from an access token (base64url), in ms', () => {
    expect(expiryOf(jwt({ exp: 1_900_000_000, sub: 'ü?>' }))).toBe(1_900_000_000_000);
  });
  it('is 0 for what it cannot read, so that the session refreshes', () => {
    expect(expiryOf('not a jwt')).toBe(0);
    expect(expiryOf(jwt({ sub: 'x' }))).toBe(0);
  });
});
