import { parseEnvelope, type EventEnvelope } from '../events.ts';

// The shape of a stream entry: how events are packed into one and read back out of it.

/** The field of a stream entry holding one JSON envelope. */
export const envelopeField = 'envelope';
/** The field of a stream entry holding a JSON array of envelopes (a packed entry). */
export const envelopesField = 'envelopes';
/**
 * Events published together share a stream entry, up to this many: one XADD, one id to read, ack
 * and reclaim per 100 events instead of per event (a 1,000-event usage batch was 1,000 XADDs, and
 * Redis and every consumer paid per entry). An entry is the unit of delivery; each of its events
 * is still validated, handled and dead-lettered on its own.
 */
export const packSize = 100;

/** An entry as XREADGROUP, XRANGE and XAUTOCLAIM return it; null fields: deleted since it was delivered. */
export type Entry = [id: string, fields: string[] | null];
export type StreamsReply = [key: string, entries: Entry[]][] | null;

/** One stream entry as read: its valid events, and those that are not (poison). */
export interface DecodedEntry {
  events: EventEnvelope[];
  rejected: { raw: string; reason: string }[];
}

export const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 1_000);

function decodeOne(value: unknown, raw: () => string, into: DecodedEntry) {
  try {
    into.events.push(parseEnvelope(value));
  } catch (error) {
    into.rejected.push({ raw: raw(), reason: reasonOf(error) });
  }
}

export function decodeEntry(fields: string[]): DecodedEntry {
  const decoded: DecodedEntry = { events: [], rejected: [] };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const raw = fields[i + 1]!;
    if (fields[i] !== envelopeField && fields[i] !== envelopesField) continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      decoded.rejected.push({ raw, reason: reasonOf(error) });
      return decoded;
    }
    if (fields[i] === envelopeField) decodeOne(value, () => raw, decoded);
    else if (!Array.isArray(value)) decoded.rejected.push({ raw, reason: `${envelopesField} is not an array` });
    else for (const element of value) decodeOne(element, () => JSON.stringify(element), decoded);
    return decoded;
  }
  decoded.rejected.push({ raw: JSON.stringify(fields), reason: `no ${envelopeField} field` });
  return decoded;
}

/** The envelopes of a stream entry as XRANGE returns its fields; throws on a malformed one. */
export function eventsOfEntry(fields: string[]): EventEnvelope[] {
  const { events, rejected } = decodeEntry(fields);
  if (rejected[0]) throw new Error(rejected[0].reason);
  return events;
}

/** The fields of the entries that carry `events` (already validated), packSize events at most to an entry. */
export function packedFields(events: EventEnvelope[]): [field: string, value: string][] {
  const packs: [string, string][] = [];
  for (let i = 0; i < events.length; i += packSize) {
    const pack = events.slice(i, i + packSize);
    if (pack.length === 1) packs.push([envelopeField, JSON.stringify(pack[0])]);
    else packs.push([envelopesField, JSON.stringify(pack)]);
  }
  return packs;
}
