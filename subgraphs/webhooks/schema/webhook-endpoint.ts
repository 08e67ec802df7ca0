import { z } from 'zod';
import { badUserInput, notFound } from '@mindweave/errors';
import { checkWebhookDestination, DestinationRefusedError, webhookEventTypes } from '@mindweave/jobs';
import {
  connectionListSize,
  isUuid,
  keysetConnection,
  newestFirst,
  pageSize,
  requireUserId,
  type SubgraphContext,
} from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { env } from '../env.ts';
import type { WebhookEndpoint as EndpointRow } from '../generated/prisma/client.ts';
import { deliveryPages } from '../delivery-pages.ts';
import { memberships } from '../memberships.ts';
import { newSigningSecret } from '../signing-secrets.ts';

const DeliveryStatus = builder.enumType('WebhookDeliveryStatus', { values: ['SUCCEEDED', 'FAILED'] as const });

const WebhookDelivery = builder.prismaObject('WebhookDelivery', {
  description: 'One attempt to deliver one event to an endpoint.',
  fields: (t) => ({
    id: t.exposeID('id'),
    eventId: t.exposeString('eventId'),
    eventType: t.exposeString('eventType'),
    attempt: t.exposeInt('attempt', { description: '1 for the first try, up to 5.' }),
    status: t.expose('status', { type: DeliveryStatus }),
    httpStatus: t.exposeInt('httpStatus', { nullable: true, description: "The receiver's HTTP status; null when no response came." }),
    latencyMs: t.exposeInt('latencyMs'),
    responseExcerpt: t.exposeString('responseExcerpt', { nullable: true, description: "The start of the receiver's response body." }),
    error: t.exposeString('error', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const WebhookDeliveryConnection = builder.connectionObject(
  { type: WebhookDelivery, name: 'WebhookDeliveryConnection' },
  { name: 'WebhookDeliveryEdge' },
);

const WebhookEndpoint = builder.prismaObject('WebhookEndpoint', {
  description: "An organization's receiver of events, signed with its secret (README: Webhooks).",
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    description: t.exposeString('description', { nullable: true }),
    eventTypes: t.exposeStringList('eventTypes'),
    enabled: t.exposeBoolean('enabled', { description: 'False once it failed too many deliveries in a row (or was disabled).' }),
    consecutiveFailures: t.exposeInt('consecutiveFailures', {
      description: 'Deliveries that failed every attempt since the last success.',
    }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true }),
    disabledReason: t.exposeString('disabledReason', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    deliveries: t.field({
      type: WebhookDeliveryConnection,
      description: 'The delivery log, one entry per attempt, newest first.',
      args: { first: t.arg.int({ defaultValue: 20, validate: pageSize }), after: t.arg.string() },
      listSize: connectionListSize,
      // Batched: the endpoints of a list read their pages in one statement.
      resolve: (endpoint, args, ctx) => keysetConnection(args, newestFirst, (window) => deliveryPages(ctx, window).load(endpoint.id)),
    }),
  }),
});

type Created = { secret: string; endpoint: EndpointRow };

const CreatedWebhookEndpoint = builder.objectRef<Created>('CreatedWebhookEndpoint').implement({
  fields: (t) => ({
    secret: t.exposeString('secret', { description: 'The signing secret (whsec_...), shown only here: keep it.' }),
    endpoint: t.field({ type: WebhookEndpoint, resolve: (created) => created.endpoint }),
  }),
});

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    url: t.string({
      required: true,
      validate: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2_048, 'must be at most 2048 characters'),
    }),
    eventTypes: t.stringList({
      required: true,
      description: `Any of: ${webhookEventTypes.join(', ')}.`,
      validate: z
        .array(z.enum(webhookEventTypes, { error: `must be one of ${webhookEventTypes.join(', ')}` }))
        .min(1, 'must name at least one event type')
        .max(webhookEventTypes.length),
    }),
    description: t.string({ validate: z.string().max(200, 'must be at most 200 characters') }),
  }),
});

const maxEndpointsPerOrganization = 20;

/** The endpoint, when the caller is an OWNER or ADMIN of its organization; NOT_FOUND otherwise. */
async function managedEndpoint(ctx: SubgraphContext, id: string): Promise<EndpointRow> {
  const endpoint = isUuid(id) ? await prisma.webhookEndpoint.findUnique({ where: { id } }) : null;
  if (!endpoint || !(await memberships.accessTo(ctx, endpoint.organizationId))) throw notFound('Webhook endpoint');
  await memberships.requireRole(ctx, endpoint.organizationId);
  return endpoint;
}

builder.queryField('webhookEndpoint', (t) =>
  t.prismaField({
    type: WebhookEndpoint,
    nullable: true,
    authenticated: true,
    description: "One of an organization's endpoints, with its delivery log. Owners and admins only.",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const endpoint = await managedEndpoint(ctx, String(id));
      return prisma.webhookEndpoint.findUnique({ ...query, where: { id: endpoint.id } });
    },
  }),
);

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.field({
    type: CreatedWebhookEndpoint,
    authenticated: true,
    description: 'Registers an endpoint for the given event types. Owners and admins only.',
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const userId = requireUserId(ctx);
      const organizationId = String(input.organizationId);
      if (!isUuid(organizationId)) throw notFound('Organization');
      await memberships.requireRole(ctx, organizationId);
      // Checked again at every delivery (the name may resolve elsewhere by then).
      await checkWebhookDestination(input.url, { allowPrivate: env.WEBHOOKS_ALLOW_PRIVATE }).catch((error: unknown) => {
        if (error instanceof DestinationRefusedError) throw badUserInput(`input.url: ${error.message}`, 'input.url');
        throw badUserInput('input.url: the host does not resolve', 'input.url');
      });
      if ((await prisma.webhookEndpoint.count({ where: { organizationId } })) >= maxEndpointsPerOrganization) {
        throw badUserInput(`An organization can have at most ${maxEndpointsPerOrganization} webhook endpoints`, 'input.organizationId');
      }
      const { secret, stored } = newSigningSecret();
      const endpoint = await prisma.webhookEndpoint.create({
        data: {
          organizationId,
          url: input.url,
          eventTypes: [...new Set(input.eventTypes)],
          description: input.description ?? null,
          secret: stored,
          createdById: userId,
        },
      });
      return { secret, endpoint };
    },
  }),
  deleteWebhookEndpoint: t.boolean({
    authenticated: true,
    description: 'Deletes the endpoint and its delivery log. Owners and admins only.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const endpoint = await managedEndpoint(ctx, String(id));
      await prisma.webhookEndpoint.delete({ where: { id: endpoint.id } });
      return true;
    },
  }),
  enableWebhookEndpoint: t.prismaField({
    type: WebhookEndpoint,
    authenticated: true,
    description: 'Turns a disabled endpoint back on, with its failure count reset. Owners and admins only.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const endpoint = await managedEndpoint(ctx, String(id));
      return prisma.webhookEndpoint.update({
        ...query,
        where: { id: endpoint.id },
        data: { enabled: true, consecutiveFailures: 0, disabledAt: null, disabledReason: null },
      });
    },
  }),
}));

// Organizations belong to accounts; webhooks adds their endpoints.
builder.externalRef('Organization', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ id: t.id() }),
  fields: (t) => ({
    webhookEndpoints: t.prismaField({
      type: [WebhookEndpoint],
      description: "The organization's webhook endpoints, oldest first. Owners and admins only.",
      listSize: { assumedSize: 20 },
      resolve: async (query, org, _args, ctx) => {
        await memberships.requireRole(ctx, org.id);
        return prisma.webhookEndpoint.findMany({ ...query, where: { organizationId: org.id }, orderBy: { createdAt: 'asc' } });
      },
    }),
  }),
});
