import { badUserInput, forbidden, notFound, unavailable } from '@mindweave/errors';
import { jobIdOf } from '@mindweave/jobs';
import { isUuid, type SubgraphContext } from '@mindweave/subgraph-kit';
import { builder } from '../builder.ts';
import { prisma } from '../db.ts';
import { signDownloadUrl } from '../download.ts';
import { env } from '../env.ts';
import { producers } from '../jobs.ts';
import { memberships } from '../memberships.ts';

const maxRangeDays = 366;

const ExportType = builder.enumType('ExportType', { values: ['USAGE', 'AUDIT'] as const });
const ExportFormat = builder.enumType('ExportFormat', {
  values: ['CSV', 'JSON'] as const,
  description: 'CSV: RFC 4180 with a header row. JSON: one array of objects.',
});
const ExportStatus = builder.enumType('ExportStatus', { values: ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'] as const });

const Organization = builder
  .externalRef('Organization', builder.selection<{ id: string }>('id'))
  .implement({ externalFields: (t) => ({ id: t.id() }) });

const ExportJob = builder.prismaObject('ExportJob', {
  description: "An export of an organization's data; poll it until it SUCCEEDED, then download it.",
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.expose('status', { type: ExportStatus }),
    downloadUrl: t.string({
      nullable: true,
      description: `Once it SUCCEEDED: a signed URL on the router, valid for ${env.EXPORTS_URL_TTL_SECONDS} s from this answer.`,
      select: { id: true, status: true, fileKey: true },
      resolve: (job) =>
        job.status === 'SUCCEEDED' && job.fileKey
          ? signDownloadUrl({
              baseUrl: env.EXPORTS_PUBLIC_URL,
              secret: env.EXPORTS_URL_SECRET ?? env.INTERNAL_SIGNING_SECRET,
              exportId: job.id,
              ttlSeconds: env.EXPORTS_URL_TTL_SECONDS,
            }).url
          : null,
    }),
    error: t.exposeString('error', { nullable: true }),
    type: t.expose('type', { type: ExportType }),
    format: t.expose('format', { type: ExportFormat }),
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime' }),
    rowsWritten: t.exposeInt('rowsWritten', { description: 'Progress: rows in the file so far.' }),
    bytes: t.float({ select: { bytes: true }, description: 'Size of the file, once it SUCCEEDED.', resolve: (job) => Number(job.bytes) }),
    organization: t.field({ type: Organization, select: { organizationId: true }, resolve: (job) => ({ id: job.organizationId }) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

const RequestExportInput = builder.inputType('RequestExportInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    type: t.field({ type: ExportType, required: true }),
    format: t.field({ type: ExportFormat, required: true }),
    from: t.field({ type: 'DateTime', required: true }),
    to: t.field({ type: 'DateTime', required: true }),
  }),
});

/** What an API key needs to export (or follow an export of) this type: exports:write, and the scope that reads the same data through GraphQL. */
const exporterScopes = (type: 'USAGE' | 'AUDIT') => ['exports:write', type === 'USAGE' ? 'usage:read' : 'policies:read'];

/** Members of the organization, or its API keys with exports:write and the type's read scope. */
async function requireExporter(ctx: SubgraphContext, organizationId: string, type: 'USAGE' | 'AUDIT'): Promise<string> {
  if (!isUuid(organizationId)) throw notFound('Organization');
  const access = await memberships.requireAccess(ctx, organizationId);
  if (access.kind === 'apiKey') {
    for (const scope of exporterScopes(type)) {
      if (!access.scopes.includes(scope)) throw forbidden(`This API key lacks the ${scope} scope`);
    }
    return ctx.identity.kind === 'apiKey' ? ctx.identity.apiKeyId : '';
  }
  return ctx.identity.kind === 'user' ? ctx.identity.userId : '';
}

builder.mutationField('requestExport', (t) =>
  t.prismaField({
    type: ExportJob,
    description:
      "Queues an export of the organization's usage events (USAGE) or audit log (AUDIT) between from and to. API keys need exports:write and, for USAGE, usage:read; for AUDIT, policies:read.",
    requiresScopes: [['exports:write']],
    args: { input: t.arg({ type: RequestExportInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const organizationId = String(input.organizationId);
      const requestedBy = await requireExporter(ctx, organizationId, input.type);
      if (input.from >= input.to) throw badUserInput('input.from: must be before to', 'input.from');
      if (input.to.getTime() - input.from.getTime() > maxRangeDays * 86_400_000)
        throw badUserInput(`input.to: at most ${maxRangeDays} days after from`, 'input.to');
      const job = await prisma.exportJob.create({
        data: { organizationId, requestedBy, type: input.type, format: input.format, from: input.from, to: input.to },
      });
      // Answered as created (QUEUED): a worker may have taken it by the time this returns.
      const answer = await prisma.exportJob.findUniqueOrThrow({ ...query, where: { id: job.id } });
      try {
        await producers.add('reports', 'export', { exportId: job.id }, { jobId: jobIdOf('export', job.id) });
      } catch (error) {
        // FAILED, which a worker never starts should the job reach the queue after all.
        ctx.log.error({ err: error, exportId: job.id }, 'export not queued');
        await prisma.exportJob.update({
          where: { id: job.id },
          data: { status: 'FAILED', error: 'The export could not be queued; request it again', finishedAt: new Date() },
        });
        throw unavailable('Exports cannot be queued right now; request it again shortly');
      }
      return answer;
    },
  }),
);

builder.queryField('exportJob', (t) =>
  t.prismaField({
    type: ExportJob,
    nullable: true,
    description:
      "An export's status; null for an unknown id, another organization's export, or an API key that could not have requested it.",
    requiresScopes: [['exports:write']],
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const found = isUuid(String(id))
        ? await prisma.exportJob.findUnique({ where: { id: String(id) }, select: { organizationId: true, type: true } })
        : null;
      if (!found) return null;
      const access = await memberships.accessTo(ctx, found.organizationId);
      if (!access || (access.kind === 'apiKey' && !exporterScopes(found.type).every((scope) => access.scopes.includes(scope)))) return null;
      return prisma.exportJob.findUnique({ ...query, where: { id: String(id) } });
    },
  }),
);
