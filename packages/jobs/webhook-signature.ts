import { createHmac, timingSafeEqual } from 'node:crypto';

/** The headers of every webhook delivery (README: "Webhooks"). */
export const webhookHeaders = {
  signature: 'mindweave-signature',
  eventId: 'mindweave-event-id',
  eventType: 'mindweave-event-type',
} as const;

/** A receiver should refuse deliveries signed longer ago than this: it bounds replays. */
export const webhookToleranceSeconds = 300;

const hmac = (secret: string, timestamp: number, body: string | Buffer) =>
  createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` */
export function signWebhook(secret: string, body: string | Buffer, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${hmac(secret, timestamp, body)}`;
}

export type WebhookVerification = { ok: true; timestamp: number } | { ok: false; reason: 'missing' | 'malformed' | 'expired' | 'mismatch' };

/**
 * What a receiver does with a delivery: recompute the HMAC over the raw body, compare in constant
 * time, and refuse timestamps more than `toleranceSeconds` away. (Refusing event ids it has seen
 * before is the receiver's part: it needs their store.)
 */
export function verifyWebhookSignature(options: {
  secret: string;
  header: string | null | undefined;
  body: string | Buffer;
  toleranceSeconds?: number;
  /** Unix seconds. */
  now?: number;
}): WebhookVerification {
  const { header, secret, body } = options;
  if (!header) return { ok: false, reason: 'missing' };
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    // More than one v1 is allowed: a sender rotating its secret signs with both.
    else if (key === 'v1' && value && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) return { ok: false, reason: 'malformed' };
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? webhookToleranceSeconds)) return { ok: false, reason: 'expired' };
  const expected = Buffer.from(hmac(secret, timestamp, body), 'hex');
  const matches = signatures.some((signature) => timingSafeEqual(expected, Buffer.from(signature, 'hex')));
  return matches ? { ok: true, timestamp } : { ok: false, reason: 'mismatch' };
}
