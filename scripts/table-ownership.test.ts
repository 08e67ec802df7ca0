import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './stack.ts';

// One owner per table: only the package whose migrations create a table (its tables, enum types
// and functions) names it in SQL. Others call the functions or job processors it exports, or its
// typed internal routes. The owners come from the migrations folders; every .ts source is scanned
// for a schema-qualified name of another package's object. e2e/, faults/ and bench/ are exempt:
// they drive and check the whole system from outside, as an operator with psql would.

const skippedDirs = new Set(['node_modules', 'dist', 'generated', '.mindweave', '.git']);
const exemptRoots = ['e2e/', 'faults/', 'bench/', 'scripts/table-ownership.test.ts'];

function walk(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skippedDirs.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, found);
    else found.push(path);
  }
  return found;
}

type Owner = { folder: string; schema: string; objects: Set<string> };

/** Each migrations folder's package: its schema (qualified in the SQL, or its db.ts' `dbSchema`) and the objects it creates. */
export function owners(files: string[]): Owner[] {
  const byFolder = new Map<string, Owner>();
  for (const file of files.filter((path) => /\/migrations\/[^/]+\.sql$/.test(path))) {
    const folder = relative(repoRoot, dirname(dirname(file)));
    const sql = readFileSync(file, 'utf8');
    const created = [
      ...sql.matchAll(
        /CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|TYPE|FUNCTION|VIEW|MATERIALIZED\s+VIEW|SEQUENCE)\s+(?:IF\s+NOT\s+EXISTS\s+)?((?:"?\w+"?\.)?"?\w+"?)/gi,
      ),
    ].map((match) => match[1]!.replaceAll('"', ''));
    const qualified = created.find((name) => name.includes('.'))?.split('.')[0];
    const schema = qualified ?? /dbSchema = '(\w+)'/.exec(readFileSync(join(repoRoot, folder, 'db.ts'), 'utf8'))?.[1];
    if (!schema) throw new Error(`${folder}: no schema found for its migrations`);
    const owner = byFolder.get(folder) ?? { folder, schema, objects: new Set<string>() };
    for (const name of created) owner.objects.add(name.split('.').at(-1)!);
    byFolder.set(folder, owner);
  }
  return [...byFolder.values()];
}

const literals = (text: string) => new Set([...text.matchAll(/['"`](\w+)['"`]/g)].map((match) => match[1]!));

/**
 * Other owners' objects that `text`, a file at `path`, names: as `schema.object` (quoted or not),
 * or as the schema and the object in string literals of their own (`{ schema: 'analytics', table:
 * 'usage_events' }`, a query assembled at run time).
 */
export function foreignReferences(path: string, text: string, all: Owner[]): string[] {
  const found: string[] = [];
  const strings = literals(text);
  for (const owner of all) {
    if (path.startsWith(`${owner.folder}/`)) continue;
    for (const match of text.matchAll(new RegExp(`\\b"?${owner.schema}"?\\."?(\\w+)"?`, 'g'))) {
      if (owner.objects.has(match[1]!)) found.push(`${owner.schema}.${match[1]} (owned by ${owner.folder})`);
    }
    if (strings.has(owner.schema))
      for (const name of owner.objects) if (strings.has(name)) found.push(`'${owner.schema}' and '${name}' (owned by ${owner.folder})`);
  }
  return found;
}

const files = walk(repoRoot).filter((path) => !path.endsWith('.d.ts'));
const all = owners(files);

describe('one owner per table', () => {
  it('finds every package with migrations and what they create', () => {
    const schemas = Object.fromEntries(all.map((owner) => [owner.folder, owner.schema]));
    expect(schemas).toMatchObject({
      'subgraphs/accounts': 'accounts',
      'subgraphs/analytics': 'analytics',
      'subgraphs/exports': 'exports',
      'subgraphs/governance': 'governance',
      'subgraphs/identity': 'identity',
      'subgraphs/mcp-registry': 'mcp_registry',
      'subgraphs/usage': 'usage',
      'subgraphs/webhooks': 'webhooks',
      'packages/schema-tools': 'schema_registry',
    });
    expect(all.find((owner) => owner.schema === 'analytics')?.objects).toContain('usage_events');
    expect(all.find((owner) => owner.schema === 'exports')?.objects).toContain('ExportStatus');
  });

  it("flags SQL naming another package's table, and not the owner's own", () => {
    const sql = `DELETE FROM governance.audit_entries WHERE ctid = ANY($1); SELECT $2::exports."ExportStatus"`;
    expect(foreignReferences('workers/audit-cleanup.ts', sql, all).sort()).toEqual([
      'exports.ExportStatus (owned by subgraphs/exports)',
      'governance.audit_entries (owned by subgraphs/governance)',
    ]);
    expect(foreignReferences('subgraphs/governance/processors.ts', 'DELETE FROM governance.audit_entries', all)).toEqual([]);
    expect(foreignReferences('subgraphs/exports/run.ts', "USAGE: { schema: 'analytics', table: 'usage_events' }", all)).toEqual([
      "'analytics' and 'usage_events' (owned by subgraphs/analytics)",
    ]);
    // Property access that happens to share a schema's name is not SQL about its tables.
    expect(foreignReferences('router/auth.ts', 'identity.userId; usage.model', all)).toEqual([]);
  });

  it('no source names a table outside the package whose migrations create it', () => {
    const violations = files
      .filter((path) => path.endsWith('.ts'))
      .map((path) => relative(repoRoot, path))
      .filter((path) => !exemptRoots.some((root) => path.startsWith(root)))
      .flatMap((path) =>
        foreignReferences(path, readFileSync(join(repoRoot, path), 'utf8'), all).map((reference) => `${path}: ${reference}`),
      );
    expect(violations).toEqual([]);
  });
});
