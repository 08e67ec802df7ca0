import { z } from 'zod';

/** Any 8-4-4-4-12 hex string, which is what PostgreSQL's uuid type accepts (z.uuid() also checks the version). */
export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a value can be compared with a uuid column: test it before a query, since PostgreSQL fails on anything else. */
export const isUuid = (value: string) => uuidPattern.test(value);

export const uuidSchema = z.string().regex(uuidPattern, 'must be a UUID');
