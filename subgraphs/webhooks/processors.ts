import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { UnrecoverableError, type Job } from 'bullmq';
import { Agent, request } from 'undici';
import { organizationOf, type EventEnvelope } from '@mindweave/events';
import {
  checkWebhookDestination,
  DestinationRefusedError,
  isFinalAttempt,
  isPrivateAddress,
  jobIdOf,
  signWebhook,
  webhookEventTypes,
  webhookHeaders,
  type JobData,
  type Producers,
} from '@mindweave/jobs';
import type { Logger, SecretBox } from '@mindweave/service-kit';
import type { Sql } from '@mindweave/subgraph-kit';
import { deliveryTarget, disableOrganizationEndpoints, recordAttempt, subscribedEndpoints, type DeliveryTarget } from './deliveries.ts';

const subscribable = new Set<string>(webhookEventTypes);
const excerptBytes = 1_000;

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * The connection's own DNS lookup, refusing private addresses: the check before the request could
 * otherwise be passed by a name that resolves elsewhere a moment later (DNS rebinding).
 */
function guardedLookup(hostname: string, options: object, callback: LookupCallback) {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const refused = addresses.filter((entry) => isPrivateAddress(entry.address));
    if (refused.length)
      return callback(Object.assign(new DestinationRefusedError(`${hostname} resolves to a private address`), { code: 'EREFUSED' }), []);
    if ((options as { all?: boolean }).all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}

async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= excerptBytes) break;
  }
  return Buffer.concat(chunks).subarray(0, excerptBytes).toString('utf8');
}

const describe = (error: unknown) => {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error instanceof Error ? error.message : String(error)}${cause}`.slice(0, 500);
};

export interface WebhookOptions {
  db: Sql;
  /** Opens the endpoints' sealed signing secrets. */
  secretBox: SecretBox;
  producers: Producers;
  log: Logger;
  allowPrivate: boolean;
  timeoutMs: number;
  /** Deliveries in a row failing every attempt before the endpoint is disabled. */
  disableAfter: number;
  /** How long subscriptions and endpoints are cached (a new or deleted endpoint takes effect within this). */
  cacheMs?: number;
}

/**
 * Webhooks on the workers' side: `fanOut` turns events into one delivery job per subscribed
 * endpoint; `deliver` makes one signed attempt, logs it, and keeps the endpoint's failure run.
 */
export function createWebhooks(options: WebhookOptions) {
  const { db, secretBox, producers, log } = options;
  const cacheMs = options.cacheMs ?? 5_000;
  const agent = new Agent({
    keepAliveTimeout: 10_000,
    connections: 32,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    ...(options.allowPrivate ? {} : { connect: { lookup: guardedLookup } }),
  });
  const subscriptions = new Map<string, { at: number; ids: Promise<{ id: string }[]> }>();
  const targets = new Map<string, { at: number; target: Promise<DeliveryTarget | null> }>();

  function cached<T>(cache: Map<string, { at: number } & T>, key: string, make: () => T): T {
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < cacheMs) return hit;
    const entry = { at: Date.now(), ...make() };
    cache.set(key, entry);
    if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
    return entry;
  }

  const subscribersOf = (organizationId: string, type: string) =>
    cached(subscriptions, `${organizationId}|${type}`, () => ({ ids: subscribedEndpoints(db, organizationId, type) })).ids;
  const targetOf = (endpointId: string) =>
    cached(targets, endpointId, () => ({ target: deliveryTarget(db, secretBox, endpointId) })).target;

  /** One delivery job per endpoint subscribed to each event (the job id makes a redelivered event add none). */
  async function fanOut(events: EventEnvelope[]): Promise<number> {
    const jobs: { name: 'deliver'; data: JobData<'webhooks', 'deliver'>; options: { jobId: string } }[] = [];
    for (const event of events) {
      const organizationId = organizationOf(event);
      if (!subscribable.has(event.type) || organizationId === undefined) continue;
      const endpoints = await subscribersOf(organizationId, event.type);
      if (endpoints.length === 0) continue;
      const body = JSON.stringify({ id: event.id, type: event.type, createdAt: event.timestamp, organizationId, data: event.data });
      for (const endpoint of endpoints) {
        jobs.push({
          name: 'deliver',
          data: { endpointId: endpoint.id, eventId: event.id, eventType: event.type, body },
          options: { jobId: jobIdOf('webhook', endpoint.id, event.id) },
        });
      }
    }
    for (let i = 0; i < jobs.length; i += 500) await producers.addBulk('webhooks', jobs.slice(i, i + 500));
    return jobs.length;
  }

  async function deliver(data: JobData<'webhooks', 'deliver'>, job: Job) {
    const target = await targetOf(data.endpointId);
    if (!target?.enabled) return { skipped: target ? 'endpoint disabled' : 'endpoint deleted' };
    const attempt = job.attemptsMade + 1;
    const started = performance.now();
    let httpStatus: number | null = null;
    let responseExcerpt: string | null = null;
    let error: string | null = null;
    let refused = false;
    try {
      await checkWebhookDestination(target.url, { allowPrivate: options.allowPrivate });
      const response = await request(target.url, {
        method: 'POST',
        dispatcher: agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'MindWeave-Webhooks/1.0',
          [webhookHeaders.signature]: signWebhook(target.secret, data.body),
          [webhookHeaders.eventId]: data.eventId,
          [webhookHeaders.eventType]: data.eventType,
          'mindweave-delivery-attempt': String(attempt),
        },
        body: data.body,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      httpStatus = response.statusCode;
      responseExcerpt = await readExcerpt(response.body).catch(() => null);
      if (httpStatus < 200 || httpStatus >= 300) error = `the receiver answered ${httpStatus}`;
    } catch (caught) {
      refused = caught instanceof DestinationRefusedError || (caught instanceof Error && caught.cause instanceof DestinationRefusedError);
      error = describe(caught);
    }
    const latencyMs = Math.round(performance.now() - started);
    const ok = error === null;
    const settles = ok || refused || isFinalAttempt(job);
    const outcome = await recordAttempt(
      db,
      {
        endpointId: target.id,
        eventId: data.eventId,
        eventType: data.eventType,
        attempt,
        ok,
        httpStatus,
        latencyMs,
        responseExcerpt,
        error,
      },
      settles,
      options.disableAfter,
    );
    if (outcome.disabled) {
      targets.delete(target.id);
      log.warn(
        { endpointId: target.id, failures: outcome.consecutiveFailures },
        'webhook endpoint disabled after failing deliveries in a row',
      );
      await producers.add(
        'email',
        'webhook-disabled',
        { organizationId: target.organizationId, endpointId: target.id, url: target.url, failures: outcome.consecutiveFailures },
        { jobId: jobIdOf('webhook-disabled', target.id, String(Date.now())) },
      );
    }
    // A refused destination stays refused: no retries.
    if (refused) throw new UnrecoverableError(error ?? 'destination refused');
    if (!ok) throw new Error(error ?? 'delivery failed');
    return { httpStatus, latencyMs, attempt };
  }

  /** Stops every endpoint of a deleted organization: none is subscribed from now on, and queued deliveries are skipped. */
  async function disableOrganization(organizationId: string) {
    const disabled = await disableOrganizationEndpoints(db, organizationId, 'the organization was deleted');
    for (const id of disabled) targets.delete(id);
    for (const key of subscriptions.keys()) if (key.startsWith(`${organizationId}|`)) subscriptions.delete(key);
    if (disabled.length)
      log.info({ organizationId, endpoints: disabled.length }, "a deleted organization's webhook endpoints were disabled");
  }

  return {
    fanOut,
    disableOrganization,
    processors: { deliver },
    close: () => agent.close(),
  };
}

export type Webhooks = ReturnType<typeof createWebhooks>;
