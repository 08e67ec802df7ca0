import { describe, expect, it } from 'vitest';
import { dedupeRepresentations, expandEntities } from './entity-dedupe.ts';

const product = (upc: string) => ({ __typename: 'Product', upc });

describe('dedupeRepresentations', () => {
  it('keeps each distinct representation once, in first-seen order', () => {
    const deduped = dedupeRepresentations([product('1'), product('2'), product('1'), { __typename: 'User', upc: '1' }, product('2')]);
    expect(deduped?.unique).toEqual([product('1'), product('2'), { __typename: 'User', upc: '1' }]);
    expect([...deduped!.positions]).toEqual([0, 1, 0, 2, 1]);
  });

  it('tells apart representations whose values only differ in type or nesting', () => {
    const deduped = dedupeRepresentations([
      { __typename: 'A', id: 1 },
      { __typename: 'A', id: '1' },
      { __typename: 'A', id: { n: 1 } },
      { __typename: 'A', id: 1 },
    ]);
    expect(deduped?.unique).toHaveLength(3);
  });

  it('returns null when every representation is distinct', () => {
    expect(dedupeRepresentations([product('1'), product('2')])).toBeNull();
    expect(dedupeRepresentations([product('1')])).toBeNull();
  });
});

describe('expandEntities', () => {
  const deduped = dedupeRepresentations([product('1'), product('2'), product('1')])!;

  it('answers every original representation in order', () => {
    const expanded = expandEntities({ data: { _entities: [{ name: 'one' }, { name: 'two' }] } }, deduped);
    expect(expanded.data).toEqual({ _entities: [{ name: 'one' }, { name: 'two' }, { name: 'one' }] });
  });

  it('repeats an entity error at each occurrence and keeps other errors', () => {
    const expanded = expandEntities(
      {
        data: { _entities: [null, { name: 'two' }] },
        errors: [
          { message: 'no such product', path: ['_entities', 0, 'name'] },
          { message: 'elsewhere', path: ['other'] },
        ],
      },
      deduped,
    );
    expect(expanded.data?.['_entities']).toEqual([null, { name: 'two' }, null]);
    expect(expanded.errors).toEqual([
      { message: 'elsewhere', path: ['other'] },
      { message: 'no such product', path: ['_entities', 0, 'name'] },
      { message: 'no such product', path: ['_entities', 2, 'name'] },
    ]);
  });

  it('orders the repeated errors by occurrence, as the subgraph would have answered the duplicates', () => {
    const errors = expandEntities(
      {
        data: { _entities: [null, null] },
        errors: [
          { message: 'one', path: ['_entities', 0] },
          { message: 'two', path: ['_entities', 1] },
        ],
      },
      deduped,
    ).errors;
    expect(errors?.map((e) => `${e.message}@${String(e.path?.[1])}`)).toEqual(['one@0', 'two@1', 'one@2']);
  });

  it('leaves an answer of the wrong length for the gateway to reject', () => {
    const response = { data: { _entities: [{ name: 'one' }] } };
    expect(expandEntities(response, deduped)).toBe(response);
  });
});

describe('dedupeRepresentations keys', () => {
  it('tells apart representations with the same values under different field names', () => {
    const deduped = dedupeRepresentations([
      { __typename: 'A', id: '1' },
      { __typename: 'A', upc: '1' },
      { __typename: 'A', id: '1' },
    ]);
    expect(deduped?.unique).toEqual([
      { __typename: 'A', id: '1' },
      { __typename: 'A', upc: '1' },
    ]);
  });
});
