import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';
import { isEnumType, parse, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { apiSchemaOf, type Composition } from './compose.ts';
import { operationCoordinates } from './coordinates.ts';
import { latestPublishedVersion } from './registry.ts';
import { clientLabel, type ClientUsage, type Traffic } from './usage.ts';

export type Criticality = 'BREAKING' | 'DANGEROUS' | 'NON_BREAKING';

/** A difference between two API schemas, as @graphql-inspector/core reports it, with a stable id. */
export interface SchemaChange {
  /** sha256 (hex) of `type`, `path` and `message`: what an approval is keyed by. */
  id: string;
  type: string;
  message: string;
  path: string | undefined;
  criticality: Criticality;
  reason: string | undefined;
}

/** schema/approvals.json: `{ "<change id>": Approval }`. */
export interface Approval {
  /** The change's message, for whoever reads the file. */
  change?: string;
  reason: string;
  author: string;
  /** Required, and must name every one, when the change breaks operations of the SDK's manifest. */
  operations?: string[];
}
export type Approvals = Record<string, Approval>;

/** An operation recorded in traffic, by one client, that a change touches. */
export interface TrafficUse {
  operation: string;
  hash: string;
  client: string;
  clientVersions: string[];
  requests: number;
}

export interface CheckedChange extends SchemaChange {
  /** The SDK operations (by name) that use what a breaking or dangerous change touches. */
  operations: string[];
  /** The operations recorded in traffic that use it, per client (empty when checked without traffic). */
  traffic: TrafficUse[];
  /** A breaking change that nothing uses: no SDK operation, and no operation in the traffic. */
  unused: boolean;
  approval: Approval | undefined;
  /** Why a breaking change fails the check; undefined when it does not. */
  blocked: string | undefined;
}

export type Baseline =
  | { source: 'registry'; description: string; supergraphSdl: string; notes: string[] }
  | { source: 'git'; description: string; supergraphSdl: string; notes: string[] }
  | { source: 'none'; description: string; notes: string[] };

/** A deprecated field, argument or enum value that operations still use. */
export interface DeprecatedInUse {
  coordinate: string;
  reason: string;
  operations: string[];
  traffic: TrafficUse[];
}

export interface CheckReport {
  ok: boolean;
  baseline: { source: Baseline['source']; description: string; notes: string[] };
  /** Whether recorded traffic decided which breaking changes are in use, and from what. */
  traffic: { source: Traffic['source']; days: number; description: string };
  deprecatedInUse: DeprecatedInUse[];
  compositionErrors: string[];
  staleFiles: string[];
  changes: CheckedChange[];
  /** Approvals that match no change of this check (safe to delete once published). */
  unusedApprovals: string[];
  problems: string[];
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
export const changeId = (change: { type: string; path?: string | undefined; message: string }) =>
  sha256([change.type, change.path ?? '', change.message].join('\n'));

const criticalityOf: Record<CriticalityLevel, Criticality> = {
  [CriticalityLevel.Breaking]: 'BREAKING',
  [CriticalityLevel.Dangerous]: 'DANGEROUS',
  [CriticalityLevel.NonBreaking]: 'NON_BREAKING',
};

/** The changes from one supergraph's API schema to another's. */
export async function diffSupergraphs(oldSupergraphSdl: string, newSupergraphSdl: string): Promise<SchemaChange[]> {
  return toSchemaChanges(await diff(apiSchemaOf(oldSupergraphSdl), apiSchemaOf(newSupergraphSdl)));
}

function toSchemaChanges(changes: Change[]): SchemaChange[] {
  return changes.map((change) => ({
    id: changeId(change),
    type: change.type,
    message: change.message,
    path: change.path,
    criticality: criticalityOf[change.criticality.level],
    reason: change.criticality.reason,
  }));
}

export interface ManifestOperation {
  name: string;
  hash: string;
  /** Schema coordinates it uses: `Type`, `Type.field`, `Type.field.argument`, `Enum.VALUE`. */
  coordinates: Set<string>;
}

/**
 * What each operation of a trusted documents manifest (`{ "<sha256>": "<document>" }`) uses of a
 * schema, found with a TypeInfo walk: the fields it selects, the arguments it passes, and every
 * field and enum value of the input types it sends.
 */
export function manifestUsage(manifest: Record<string, string>, schema: GraphQLSchema): ManifestOperation[] {
  return Object.entries(manifest).map(([hash, text]) => {
    const document = parse(text);
    const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
    return { name: operation?.name?.value ?? `anonymous ${hash.slice(0, 12)}`, hash, coordinates: operationCoordinates(document, schema) };
  });
}

/** Whether a coordinate (`Type`, `Type.field`, `Type.field.argument`) exists in a schema. */
function exists(schema: GraphQLSchema, coordinate: string): boolean {
  const [typeName, member, argument] = coordinate.split('.');
  const type = typeName ? schema.getType(typeName) : undefined;
  if (!type || member === undefined) return Boolean(type);
  if (isEnumType(type)) return Boolean(type.getValue(member));
  if (!('getFields' in type)) return false;
  const field = type.getFields()[member];
  if (!field || argument === undefined) return Boolean(field);
  return 'args' in field && field.args.some((a) => a.name === argument);
}

/**
 * Whether a change at `path` touches an operation using `coordinates`: the path itself is used,
 * or it is new (a required argument or input field added) and what it was added to is used.
 */
function touches(path: string | undefined, coordinates: Set<string>, oldSchema: GraphQLSchema): boolean {
  if (!path) return false;
  if (coordinates.has(path)) return true;
  const parent = path.split('.').slice(0, -1).join('.');
  return parent !== '' && !exists(oldSchema, path) && coordinates.has(parent);
}

export interface CheckInput {
  composition: Composition;
  /** Committed files under schema/ that differ from what composes now. */
  staleFiles: string[];
  baseline: Baseline;
  /** The SDK's trusted documents manifest. */
  manifest: Record<string, string>;
  approvals: Approvals;
  /** The operations recorded by the routers; without it, every breaking change counts as in use. */
  traffic?: Traffic;
}

/**
 * The schema check: composition errors, stale committed files, and breaking changes against the
 * baseline (the last published supergraph) that no approval covers. A breaking change to what an
 * SDK operation uses is reported with those operations, and only an approval that lists them all
 * covers it.
 */
export async function checkSchema(input: CheckInput): Promise<CheckReport> {
  const { composition, staleFiles, baseline, manifest, approvals } = input;
  const traffic: Traffic = input.traffic ?? { source: 'none', days: 0, description: 'no traffic was asked for' };
  const problems: string[] = [];
  let deprecatedInUse: DeprecatedInUse[] = [];
  const report = (changes: CheckedChange[], unusedApprovals: string[]): CheckReport => ({
    ok: problems.length === 0,
    baseline: { source: baseline.source, description: baseline.description, notes: baseline.notes },
    traffic: { source: traffic.source, days: traffic.days, description: traffic.description },
    deprecatedInUse,
    compositionErrors: composition.ok ? [] : composition.errors,
    staleFiles,
    changes,
    unusedApprovals,
    problems,
  });

  if (!composition.ok) problems.push(`composition failed with ${composition.errors.length} error(s)`);
  if (staleFiles.length) problems.push(`stale committed files: ${staleFiles.join(', ')} (run \`pnpm schema compose\` and commit)`);
  if (!composition.ok || baseline.source === 'none') return report([], []);

  const oldSchema = apiSchemaOf(baseline.supergraphSdl);
  const newSchema = apiSchemaOf(composition.supergraphSdl);
  const schemaChanges = toSchemaChanges(await diff(oldSchema, newSchema));
  const usage = manifestUsage(manifest, oldSchema);
  const recorded = traffic.source === 'registry' ? traffic.operations.map((op) => ({ ...op, used: new Set(op.coordinates) })) : [];
  const trafficUse = (op: ClientUsage): TrafficUse => ({
    operation: op.name || `anonymous ${op.hash.slice(0, 12)}`,
    hash: op.hash,
    client: clientLabel(op.clientName),
    clientVersions: op.clientVersions,
    requests: op.requests,
  });

  const changes = schemaChanges.map((change): CheckedChange => {
    const relevant = change.criticality !== 'NON_BREAKING';
    const operations = relevant ? usage.filter((op) => touches(change.path, op.coordinates, oldSchema)).map((op) => op.name) : [];
    const inTraffic = relevant ? recorded.filter((op) => touches(change.path, op.used, oldSchema)).map(trafficUse) : [];
    const approval = approvals[change.id];
    // Only recorded traffic can show that nothing uses a change; without it, every one may be in use.
    const unused = change.criticality === 'BREAKING' && traffic.source === 'registry' && operations.length === 0 && inTraffic.length === 0;
    let blocked: string | undefined;
    if (change.criticality === 'BREAKING' && !unused) {
      const unlisted = operations.filter((name) => !approval?.operations?.includes(name));
      if (!approval) blocked = inTraffic.length ? `not approved, and in use by ${describeUse(inTraffic)}` : 'not approved';
      else if (unlisted.length) blocked = `the approval must list the SDK operations it breaks: ${unlisted.join(', ')}`;
    }
    return { ...change, operations, traffic: inTraffic, unused, approval, blocked };
  });
  deprecatedInUse = deprecatedCoordinates(newSchema).flatMap(({ coordinate, reason }) => {
    const sdk = usage.filter((op) => op.coordinates.has(coordinate)).map((op) => op.name);
    const used = recorded.filter((op) => op.used.has(coordinate)).map(trafficUse);
    return sdk.length || used.length ? [{ coordinate, reason, operations: sdk, traffic: used }] : [];
  });
  const blocked = changes.filter((c) => c.blocked);
  if (blocked.length) problems.push(`${blocked.length} breaking change(s) without a valid approval`);
  const matched = new Set(changes.map((c) => c.id));
  return report(
    changes,
    Object.keys(approvals).filter((id) => !matched.has(id)),
  );
}

const describeUse = (uses: TrafficUse[]) => {
  const clients = [...new Set(uses.map((u) => u.client))];
  const requests = uses.reduce((sum, u) => sum + u.requests, 0);
  return `${uses.length} operation(s) of ${clients.join(', ')} (${requests} request(s))`;
};

/** The deprecated fields, arguments, input fields and enum values of a schema, by coordinate. */
function deprecatedCoordinates(schema: GraphQLSchema): { coordinate: string; reason: string }[] {
  const found: { coordinate: string; reason: string }[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isEnumType(type)) {
      for (const value of type.getValues())
        if (value.deprecationReason) found.push({ coordinate: `${type.name}.${value.name}`, reason: value.deprecationReason });
    } else if ('getFields' in type) {
      for (const field of Object.values(type.getFields())) {
        if (field.deprecationReason) found.push({ coordinate: `${type.name}.${field.name}`, reason: field.deprecationReason });
        for (const arg of 'args' in field ? field.args : [])
          if (arg.deprecationReason) found.push({ coordinate: `${type.name}.${field.name}.${arg.name}`, reason: arg.deprecationReason });
      }
    }
  }
  return found;
}

/** Validates schema/approvals.json's content; throws naming each bad entry. */
export function parseApprovals(json: string): Approvals {
  const value = JSON.parse(json) as unknown;
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new Error('schema/approvals.json must be an object keyed by change id');
  const errors: string[] = [];
  for (const [id, entry] of Object.entries(value as Record<string, Partial<Approval>>)) {
    if (!/^[0-9a-f]{64}$/.test(id)) errors.push(`${id}: the key must be a change id (64 hex characters)`);
    if (typeof entry?.reason !== 'string' || !entry.reason.trim()) errors.push(`${id}: "reason" is required`);
    if (typeof entry?.author !== 'string' || !entry.author.trim()) errors.push(`${id}: "author" is required`);
    if (entry?.operations !== undefined && !(Array.isArray(entry.operations) && entry.operations.every((o) => typeof o === 'string')))
      errors.push(`${id}: "operations" must be a list of operation names`);
  }
  if (errors.length) throw new Error(`schema/approvals.json is invalid:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
  return value as Approvals;
}

const formatUse = (use: TrafficUse) =>
  `${use.operation} (${use.hash.slice(0, 12)}) by ${use.client}${use.clientVersions.some(Boolean) ? ` ${use.clientVersions.filter(Boolean).join(', ')}` : ''}: ${use.requests} request(s)`;

const marks: Record<Criticality, string> = { BREAKING: '✖', DANGEROUS: '⚠', NON_BREAKING: '✔' };

/** The report as a CI log reads it. */
export function formatCheckReport(report: CheckReport): string {
  const lines: string[] = [`Schema check against ${report.baseline.description}`];
  for (const note of report.baseline.notes) lines.push(`  note: ${note}`);
  lines.push(
    report.traffic.source === 'registry'
      ? `Traffic: ${report.traffic.description}; a breaking change nothing uses passes`
      : `Checked without traffic: ${report.traffic.description}; every breaking change needs an approval`,
  );
  if (report.compositionErrors.length) {
    lines.push('', 'Composition failed:');
    for (const error of report.compositionErrors) lines.push(`  - ${error}`);
  }
  if (report.staleFiles.length)
    lines.push('', `Stale committed files (run \`pnpm schema compose\` and commit): ${report.staleFiles.join(', ')}`);

  const by = (criticality: Criticality) => report.changes.filter((c) => c.criticality === criticality);
  const breaking = by('BREAKING');
  const dangerous = by('DANGEROUS');
  const safe = by('NON_BREAKING');
  if (report.changes.length) {
    lines.push(
      '',
      `Changes: ${breaking.length} breaking (${breaking.filter((c) => !c.blocked && !c.unused).length} approved, ${breaking.filter((c) => c.unused).length} unused), ${dangerous.length} dangerous, ${safe.length} safe`,
    );
  } else if (report.baseline.source !== 'none' && !report.compositionErrors.length) {
    lines.push('', 'No changes.');
  }
  for (const change of breaking) {
    lines.push('', `${marks.BREAKING} BREAKING  ${change.message}${change.path ? `  [${change.path}]` : ''}`);
    if (change.operations.length) lines.push(`    breaks SDK operations: ${change.operations.join(', ')}`);
    if (change.traffic.length) {
      lines.push(`    in use by ${describeUse(change.traffic)} in the last ${report.traffic.days} day(s):`);
      for (const use of change.traffic) lines.push(`      ${formatUse(use)}`);
    }
    if (change.unused)
      lines.push(`    unused: no SDK operation, and no operation recorded in the last ${report.traffic.days} day(s), uses it`);
    if (change.reason) lines.push(`    why: ${change.reason}`);
    if (change.approval) lines.push(`    approved by ${change.approval.author}: ${change.approval.reason}`);
    if (change.blocked) {
      lines.push(`    FAILS: ${change.blocked}. To approve it, add to schema/approvals.json:`);
      const entry: Approval = {
        change: change.message,
        reason: '<why this is acceptable>',
        author: '<you>',
        ...(change.operations.length ? { operations: change.operations } : {}),
      };
      lines.push(...`"${change.id}": ${JSON.stringify(entry, null, 2)}`.split('\n').map((l) => `      ${l}`));
    }
  }
  if (dangerous.length) lines.push('');
  for (const change of dangerous) {
    lines.push(`${marks.DANGEROUS} DANGEROUS ${change.message}${change.path ? `  [${change.path}]` : ''}`);
    if (change.operations.length) lines.push(`    may affect SDK operations: ${change.operations.join(', ')}`);
    if (change.traffic.length) lines.push(`    may affect ${describeUse(change.traffic)}`);
    if (change.reason) lines.push(`    why: ${change.reason}`);
  }
  if (report.deprecatedInUse.length) lines.push('');
  for (const deprecated of report.deprecatedInUse) {
    lines.push(`${marks.DANGEROUS} DEPRECATED ${deprecated.coordinate} is still used (${deprecated.reason})`);
    if (deprecated.operations.length) lines.push(`    by SDK operations: ${deprecated.operations.join(', ')}`);
    for (const use of deprecated.traffic) lines.push(`    by ${formatUse(use)}`);
  }
  if (safe.length) lines.push('');
  for (const change of safe) lines.push(`${marks.NON_BREAKING} safe      ${change.message}`);
  if (report.unusedApprovals.length)
    lines.push('', `Approvals that match no change (remove them once published): ${report.unusedApprovals.join(', ')}`);
  lines.push('', report.ok ? 'Schema check passed.' : `Schema check failed: ${report.problems.join('; ')}.`);
  return `${lines.join('\n')}\n`;
}

/**
 * The last published supergraph: the registry's latest version when `databaseUrl` reaches a
 * registry with one, otherwise the committed schema/supergraph.graphql at `gitRef` (CI's case).
 */
export async function resolveBaseline(options: {
  databaseUrl: string | undefined;
  gitRef: string;
  gitRefGiven?: boolean;
  root: string;
}): Promise<Baseline> {
  const notes: string[] = [];
  if (options.gitRefGiven) {
    notes.push(`--base ${options.gitRef} was given, so the registry's versions were not consulted`);
  } else if (options.databaseUrl) {
    try {
      const latest = await latestPublishedVersion(options.databaseUrl);
      if (latest)
        return {
          source: 'registry',
          description: `registry version ${latest.id} (${latest.hash.slice(0, 12)})`,
          supergraphSdl: latest.supergraph,
          notes,
        };
      notes.push('the registry at DATABASE_URL has no published version yet');
    } catch (error) {
      notes.push(`the registry at DATABASE_URL could not be read (${(error as Error).message})`);
    }
  } else {
    notes.push('DATABASE_URL is not set, so the registry was not consulted');
  }
  try {
    const { stdout } = await promisify(execFile)('git', ['show', `${options.gitRef}:./schema/supergraph.graphql`], {
      cwd: options.root,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { source: 'git', description: `schema/supergraph.graphql at git ${options.gitRef}`, supergraphSdl: stdout, notes };
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? (error as Error).message)
      .trim()
      .split('\n')[0];
    notes.push(`no committed supergraph at git ${options.gitRef} (${stderr})`);
    return { source: 'none', description: 'no baseline, so breaking changes were not checked', notes };
  }
}
