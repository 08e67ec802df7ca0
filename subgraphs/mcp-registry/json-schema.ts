import { Ajv, type ErrorObject } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with its plugin on `default`; Node hands ESM callers module.exports, which is the plugin too.
const addFormats = ((addFormatsModule as { default?: unknown }).default ?? addFormatsModule) as typeof addFormatsModule.default;

/** A tool's input schema may not be larger than this, serialized. */
export const maxInputSchemaBytes = 64 * 1024;

// Unknown keywords and formats are annotations in JSON Schema, so they are accepted (strict off);
// the formats the meta-schemas use (uri, regex, ...) are checked. 2020-12 and draft-07 cannot
// share an instance.
const options = { strict: false, allErrors: false, logger: false as const, validateFormats: true };
const draft2020 = addFormats(new Ajv2020(options));
const draft07 = addFormats(new Ajv(options));

const dialects: Record<string, Ajv> = {
  'https://json-schema.org/draft/2020-12/schema': draft2020,
  'http://json-schema.org/draft-07/schema': draft07,
};

function describe(error: ErrorObject | undefined): string {
  if (!error) return 'is not a valid JSON Schema';
  const where = error.instancePath ? `at ${error.instancePath}` : 'at the root';
  const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues;
  return `${where} ${error.message ?? 'is invalid'}${allowed ? ` (${allowed.join(', ')})` : ''}`;
}

/**
 * Why `schema` is not a JSON Schema an MCP tool can take as its `inputSchema`, or null when it is.
 * It must be an object schema (MCP tools take named arguments), valid against its dialect's
 * meta-schema (2020-12 unless `$schema` names draft-07), and compile: every `$ref` resolves
 * locally and every `pattern` is a valid regular expression.
 */
export function inputSchemaProblem(schema: unknown): string | null {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return 'must be a JSON Schema object';
  if (JSON.stringify(schema).length > maxInputSchemaBytes) return `must be at most ${maxInputSchemaBytes} bytes`;
  const record = schema as Record<string, unknown>;
  const declared = record['$schema'];
  const dialect = declared === undefined ? draft2020 : typeof declared === 'string' ? dialects[declared.replace(/#$/, '')] : undefined;
  if (!dialect) return `$schema must be ${Object.keys(dialects).join(' or ')} (or left out for 2020-12)`;
  if (!dialect.validateSchema(record)) return `is not a valid JSON Schema: ${describe(dialect.errors?.[0])}`;
  if (record['type'] !== 'object') return 'must have "type": "object": an MCP tool takes an object of named arguments';
  try {
    dialect.compile(record);
  } catch (error) {
    return `is not a valid JSON Schema: ${(error as Error).message}`;
  } finally {
    // Compiled schemas are cached by content and $id: drop this one, so that neither grows nor collides.
    dialect.removeSchema(record);
  }
  return null;
}
