import { describe, expect, it } from 'vitest';
import { inputSchemaProblem, maxInputSchemaBytes } from './json-schema.ts';

describe('inputSchemaProblem', () => {
  it('accepts object schemas of 2020-12 (the default) and draft-07, with formats, refs and unknown keywords', () => {
    const valid = [
      { type: 'object' },
      {
        type: 'object',
        properties: { url: { type: 'string', format: 'uri' }, n: { type: 'integer', minimum: 0 } },
        required: ['url'],
        additionalProperties: false,
      },
      {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        $defs: { s: { type: 'string' } },
        properties: { s: { $ref: '#/$defs/s' } },
      },
      {
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        definitions: { s: { type: 'string' } },
        properties: { s: { $ref: '#/definitions/s' } },
      },
      { type: 'object', properties: { a: { type: 'string', format: 'not-a-known-format', 'x-ui': 'textarea' } } },
    ];
    for (const schema of valid) expect(inputSchemaProblem(schema), JSON.stringify(schema)).toBeNull();
  });

  it('says why a schema is refused', () => {
    expect(inputSchemaProblem({ type: 'object', properties: { a: { type: 'strng' } } })).toMatch(
      /^is not a valid JSON Schema: at \/properties\/a\/type must be equal to one of the allowed values \(array, boolean/,
    );
    expect(inputSchemaProblem({ type: 'object', properties: { a: { minLength: -1 } } })).toBe(
      'is not a valid JSON Schema: at /properties/a/minLength must be >= 0',
    );
    expect(inputSchemaProblem({ type: 'object', properties: { a: { pattern: '[' } } })).toMatch(/Invalid regular expression/);
    expect(inputSchemaProblem({ type: 'object', properties: { a: { $ref: 'https://example.com/remote.json' } } })).toMatch(
      /can't resolve reference/,
    );
    expect(inputSchemaProblem({ $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' })).toMatch(/^\$schema must be/);
    expect(inputSchemaProblem({ type: 'array' })).toMatch(/"type": "object"/);
    expect(inputSchemaProblem({ properties: {} })).toMatch(/"type": "object"/);
    for (const notAnObject of [true, null, 'schema', 1, []]) expect(inputSchemaProblem(notAnObject)).toBe('must be a JSON Schema object');
    const huge = { type: 'object', description: 'x'.repeat(maxInputSchemaBytes) };
    expect(inputSchemaProblem(huge)).toBe(`must be at most ${maxInputSchemaBytes} bytes`);
  });

  it('keeps no state between calls: the same $id twice is fine', () => {
    expect(inputSchemaProblem({ $id: 'https://example.com/tool', type: 'object' })).toBeNull();
    expect(inputSchemaProblem({ $id: 'https://example.com/tool', type: 'object', properties: { a: { type: 'string' } } })).toBeNull();
  });
});
