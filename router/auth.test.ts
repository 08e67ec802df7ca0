import { describe, expect, it } from 'vitest';
import { credentialOf } from './auth.ts';

describe('credentialOf', () => {
  it('takes x-api-key first, trimmed', () => {
    expect(credentialOf({ 'x-api-key': ' mw_sk_a ', authorization: 'Bearer jwt' })).toEqual({ kind: 'apiKey', key: 'mw_sk_a' });
  });

  it('tells an API key from an access token in Authorization, with or without Bearer', () => {
    expect(credentialOf({ authorization: 'Bearer mw_sk_b' })).toEqual({ kind: 'apiKey', key: 'mw_sk_b' });
    expect(credentialOf({ authorization: 'mw_sk_c' })).toEqual({ kind: 'apiKey', key: 'mw_sk_c' });
    expect(credentialOf({ authorization: 'bearer eyJ.x.y' })).toEqual({ kind: 'jwt', token: 'eyJ.x.y' });
  });

  it('finds none without either header, or with empty ones', () => {
    expect(credentialOf({})).toBeNull();
    expect(credentialOf({ authorization: '  ', 'x-api-key': '' })).toBeNull();
  });
});
