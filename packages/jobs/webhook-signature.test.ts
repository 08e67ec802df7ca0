import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from './webhook-signature.ts';

const secret = 'whsec_test-secret';
const body = JSON.stringify({ id: 'evt-1', type: 'usage.recorded', data: { inputTokens: 10 } });

describe('webhook signatures', () => {
  it('signs t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">, which a receiver can recompute', () => {
    const header = signWebhook(secret, body, 1_700_000_000);
    const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
    expect(header).toBe(`t=1700000000,v1=${expected}`);
    expect(verifyWebhookSignature({ secret, header, body, now: 1_700_000_010 })).toEqual({ ok: true, timestamp: 1_700_000_000 });
    expect(verifyWebhookSignature({ secret, header, body: Buffer.from(body), now: 1_700_000_010 }).ok).toBe(true);
  });

  it('rejects a tampered body, another secret, a forged signature', () => {
    const header = signWebhook(secret, body);
    expect(verifyWebhookSignature({ secret, header, body: body.replace('10', '99') })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhookSignature({ secret: 'whsec_other', header, body })).toEqual({ ok: false, reason: 'mismatch' });
    const flipped = header.replace(/v1=(.)/, (_, first: string) => `v1=${first === '0' ? '1' : '0'}`);
    expect(verifyWebhookSignature({ secret, header: flipped, body }).ok).toBe(false);
    // Moving the timestamp breaks the signature too: it is signed with the body.
    const [, v1] = header.split(',');
    expect(verifyWebhookSignature({ secret, header: `t=${Math.floor(Date.now() / 1000) - 1},${v1}`, body })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('rejects timestamps more than five minutes away (replays), and malformed headers', () => {
    const now = 1_700_000_000;
    expect(verifyWebhookSignature({ secret, header: signWebhook(secret, body, now - 301), body, now })).toEqual({
      ok: false,
      reason: 'expired',
    });
    expect(verifyWebhookSignature({ secret, header: signWebhook(secret, body, now + 301), body, now })).toEqual({
      ok: false,
      reason: 'expired',
    });
    expect(verifyWebhookSignature({ secret, header: signWebhook(secret, body, now - 299), body, now }).ok).toBe(true);
    for (const header of [undefined, '', 'v1=abc', 't=1700000000', 't=soon,v1=00', 'garbage']) {
      expect(verifyWebhookSignature({ secret, header, body, now }).ok).toBe(false);
    }
  });

  it('accepts any of several v1 signatures (secret rotation)', () => {
    const now = Math.floor(Date.now() / 1000);
    const old = signWebhook('whsec_old', body, now);
    const current = signWebhook(secret, body, now);
    const header = `${current},${old.split(',')[1]}`;
    expect(verifyWebhookSignature({ secret: 'whsec_old', header, body }).ok).toBe(true);
    expect(verifyWebhookSignature({ secret, header, body }).ok).toBe(true);
  });
});
