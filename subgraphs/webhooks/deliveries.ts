import type { SecretBox } from '@mindweave/service-kit';
import type { Sql } from '@mindweave/subgraph-kit';

// The workers' side of the webhooks subgraph: which endpoints want an event, and the delivery log.
// Plain SQL on the workers' pool, qualified with this subgraph's schema (db.ts: `webhooks`).

export type DeliveryTarget = { id: string; organizationId: string; url: string; secret: string; enabled: boolean };

/** Bound into every sealed signing secret: the subgraph seals it, the workers open it. */
export const signingSecretPurpose = 'webhook signing secret';

/** Enabled endpoints of the organization subscribed to `eventType`. */
export async function subscribedEndpoints(db: Sql, organizationId: string, eventType: string): Promise<{ id: string }[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM webhooks.webhook_endpoints WHERE "organizationId" = $1::uuid AND enabled AND $2 = ANY("eventTypes") ORDER BY "createdAt"`,
    [organizationId, eventType],
  );
  return rows;
}

/** Disables every enabled endpoint of the organization (it was deleted); the ids of those it disabled. */
export async function disableOrganizationEndpoints(db: Sql, organizationId: string, reason: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE webhooks.webhook_endpoints SET enabled = false, "disabledAt" = now(), "disabledReason" = $2 WHERE "organizationId" = $1::uuid AND enabled RETURNING id`,
    [organizationId, reason],
  );
  return rows.map((row) => row.id);
}

/** The endpoint, with its signing secret opened. */
export async function deliveryTarget(db: Sql, secretBox: SecretBox, endpointId: string): Promise<DeliveryTarget | null> {
  const { rows } = await db.query<DeliveryTarget>(
    `SELECT id, "organizationId", url, secret, enabled FROM webhooks.webhook_endpoints WHERE id = $1::uuid`,
    [endpointId],
  );
  const row = rows[0];
  return row ? { ...row, secret: secretBox.open(row.secret, signingSecretPurpose) } : null;
}

export type Attempt = {
  endpointId: string;
  eventId: string;
  eventType: string;
  attempt: number;
  ok: boolean;
  httpStatus: number | null;
  latencyMs: number;
  responseExcerpt: string | null;
  error: string | null;
};

export type Outcome = { consecutiveFailures: number; disabled: boolean };

/**
 * Logs one attempt and, when it settles the delivery (a success, or the last attempt failing),
 * keeps the endpoint's run of failed deliveries: reset on success, one more on failure, and the
 * endpoint disabled when the run reaches `disableAfter`. `disabled` is true only for the call that
 * disabled it, so that one notice is sent.
 */
export async function recordAttempt(db: Sql, attempt: Attempt, settles: boolean, disableAfter: number): Promise<Outcome> {
  const values = [
    attempt.endpointId,
    attempt.eventId,
    attempt.eventType,
    attempt.attempt,
    attempt.ok ? 'SUCCEEDED' : 'FAILED',
    attempt.httpStatus,
    attempt.latencyMs,
    attempt.responseExcerpt,
    attempt.error,
  ];
  const insert = `INSERT INTO webhooks.webhook_deliveries ("endpointId", "eventId", "eventType", attempt, status, "httpStatus", "latencyMs", "responseExcerpt", error)
                  VALUES ($1::uuid, $2, $3, $4, $5::webhooks."DeliveryStatus", $6, $7, $8, $9)`;
  if (!settles) {
    await db.query(insert, values);
    return { consecutiveFailures: 0, disabled: false };
  }
  if (attempt.ok) {
    // Only writes the endpoint when there was a run to reset.
    await db.query(
      `WITH logged AS (${insert})
       UPDATE webhooks.webhook_endpoints SET "consecutiveFailures" = 0 WHERE id = $1::uuid AND "consecutiveFailures" <> 0`,
      values,
    );
    return { consecutiveFailures: 0, disabled: false };
  }
  // One UPDATE, so that concurrent failures count each once; the call whose update disabled the
  // endpoint is the one that set "disabledAt" to its own transaction's now().
  const { rows } = await db.query<{ consecutiveFailures: number; disabled: boolean }>(
    `WITH logged AS (${insert})
     UPDATE webhooks.webhook_endpoints SET
       "consecutiveFailures" = "consecutiveFailures" + 1,
       enabled = enabled AND "consecutiveFailures" + 1 < $10,
       "disabledAt" = CASE WHEN enabled AND "consecutiveFailures" + 1 >= $10 THEN now() ELSE "disabledAt" END,
       "disabledReason" = CASE WHEN enabled AND "consecutiveFailures" + 1 >= $10 THEN ("consecutiveFailures" + 1) || ' deliveries in a row failed' ELSE "disabledReason" END
     WHERE id = $1::uuid
     RETURNING "consecutiveFailures", (NOT enabled AND "disabledAt" = now()::timestamp(3)) AS disabled`,
    [...values, disableAfter],
  );
  return rows[0] ?? { consecutiveFailures: 0, disabled: false };
}
