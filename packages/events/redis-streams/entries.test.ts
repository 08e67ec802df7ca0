import { describe, expect, it } from 'vitest';
import { decodeEntry, envelopeField, envelopesField, eventsOfEntry, packedFields, packSize, reasonOf } from './entries.ts';
import { usageEvent } from '../fixtures/usage-event.ts';

describe('stream entries: packing events and reading them back', () => {
  it('packs a lone event as one envelope field, and more as arrays of up to packSize', () => {
    const one = usageEvent();
    expect(packedFields([one])).toEqual([[envelopeField, JSON.stringify(one)]]);
    const events = Array.from({ length: 2 * packSize + 50 }, usageEvent);
    const packs = packedFields(events);
    expect(packs.map(([field, value]) => [field, (JSON.parse(value) as unknown[]).length])).toEqual([
      [envelopesField, packSize],
      [envelopesField, packSize],
      [envelopesField, 50],
    ]);
    // A tail of one event after full packs is written as a single envelope.
    expect(packedFields(Array.from({ length: packSize + 1 }, usageEvent)).map(([field]) => field)).toEqual([envelopesField, envelopeField]);
    expect(packedFields([])).toEqual([]);
  });

  it('reads back every packed event in order, as published', () => {
    const events = Array.from({ length: 130 }, usageEvent);
    const read = packedFields(events).flatMap((fields) => eventsOfEntry(fields));
    expect(read.map((event) => event.id)).toEqual(events.map((event) => event.id));
  });

  it('keeps the valid events of a packed entry and rejects each malformed one with its own JSON', () => {
    const [first, second] = [usageEvent(), usageEvent()];
    const malformed = { ...usageEvent(), type: 'usage.nonsense' };
    const decoded = decodeEntry([envelopesField, JSON.stringify([first, malformed, second])]);
    expect(decoded.events.map((event) => event.id)).toEqual([first.id, second.id]);
    expect(decoded.rejected).toEqual([{ raw: JSON.stringify(malformed), reason: expect.any(String) }]);
  });

  it('rejects an entry whose JSON does not parse, whose pack is not an array, or that has no envelope field', () => {
    expect(decodeEntry([envelopeField, '{not json'])).toEqual({
      events: [],
      rejected: [{ raw: '{not json', reason: expect.stringMatching(/JSON/) }],
    });
    expect(decodeEntry([envelopesField, '{"a":1}'])).toEqual({
      events: [],
      rejected: [{ raw: '{"a":1}', reason: `${envelopesField} is not an array` }],
    });
    expect(decodeEntry(['other', 'x'])).toEqual({
      events: [],
      rejected: [{ raw: JSON.stringify(['other', 'x']), reason: `no ${envelopeField} field` }],
    });
  });

  it('skips fields other than the envelope ones', () => {
    const event = usageEvent();
    expect(decodeEntry(['trace', 'abc', envelopeField, JSON.stringify(event)]).events.map(({ id }) => id)).toEqual([event.id]);
  });

  it('eventsOfEntry throws the first malformed event’s reason', () => {
    expect(() => eventsOfEntry([envelopeField, '{not json'])).toThrow(/JSON/);
  });

  it('keeps reasons to 1,000 characters, whatever was thrown', () => {
    expect(reasonOf(new Error('x'.repeat(5_000)))).toHaveLength(1_000);
    expect(reasonOf('plain')).toBe('plain');
  });
});
