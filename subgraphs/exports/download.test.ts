import { describe, expect, it } from 'vitest';
import { signDownloadUrl, verifyDownload } from './download.ts';

const secret = 's'.repeat(40);
const exportId = '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b';

describe('download URLs', () => {
  it('sign the export id and expiry, and expire', () => {
    const now = 1_800_000_000_000;
    const { url, expiresAt } = signDownloadUrl({ baseUrl: 'http://localhost:4000', secret, exportId, ttlSeconds: 900, now });
    const parsed = new URL(url);
    expect(parsed.pathname).toBe(`/exports/${exportId}/download`);
    expect(parsed.searchParams.get('expires')).toBe(String(now / 1000 + 900));
    expect(expiresAt.getTime()).toBe(now + 900_000);
    expect(verifyDownload(secret, exportId, parsed.searchParams, now)).toBe('ok');
    expect(verifyDownload(secret, exportId, parsed.searchParams, now + 900_000)).toBe('expired');
    expect(verifyDownload('t'.repeat(40), exportId, parsed.searchParams, now)).toBe('invalid');
    expect(verifyDownload(secret, exportId.replace('3f', '4f'), parsed.searchParams, now)).toBe('invalid');
    const later = new URLSearchParams(parsed.searchParams);
    later.set('expires', String(now / 1000 + 90_000));
    expect(verifyDownload(secret, exportId, later, now)).toBe('invalid');
    expect(verifyDownload(secret, exportId, new URLSearchParams(), now)).toBe('invalid');
    expect(verifyDownload(secret, exportId, new URLSearchParams({ expires: 'x', signature: 'y' }), now)).toBe('invalid');
  });
});
