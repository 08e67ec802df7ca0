// Every gateway must answer TestQuery with the same data, and that data must be the whole of the
// scenario's (6 users, 5 top products, no errors): otherwise the benchmark would compare different work.
import { isDeepStrictEqual } from 'node:util';
import { testRequestBody } from './test-query.ts';

export interface Response {
  status: number;
  text: string;
  body: { data?: TestData | null; errors?: unknown[] };
}

interface TestData {
  users?: unknown[];
  topProducts?: unknown[];
}

/** True once `url` answers a GraphQL request with data. */
export async function answersGraphQL(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
      signal: AbortSignal.timeout(2_000),
    });
    return response.ok && ((await response.json()) as { data?: unknown }).data !== undefined;
  } catch {
    return false;
  }
}

export async function postTestQuery(url: string, token: string, body = testRequestBody): Promise<Response> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  try {
    return { status: response.status, text, body: JSON.parse(text) as Response['body'] };
  } catch {
    throw new Error(`${url} answered HTTP ${response.status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
}

/** Where two JSON values first differ, as a path such as `users.0.reviews.1.body`. */
export function firstDifference(a: unknown, b: unknown, path: string[] = []): string | null {
  if (isDeepStrictEqual(a, b)) return null;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const found = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], [...path, key]);
      if (found) return found;
    }
  }
  return `${path.join('.') || '(root)'}: ${JSON.stringify(a)?.slice(0, 120)} against ${JSON.stringify(b)?.slice(0, 120)}`;
}

/** Where two response texts first differ, with some context, or null when they are the same bytes. */
export function firstByteDifference(a: string, b: string): string | null {
  if (a === b) return null;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at byte ${i}: ${JSON.stringify(a.slice(Math.max(0, i - 60), i + 60))} against ${JSON.stringify(b.slice(Math.max(0, i - 60), i + 60))}`;
}

/**
 * The checked answer of each gateway, by name; throws when one is wrong or differs from the
 * others. This router's answers must be byte-identical to plain @apollo/gateway's (`sameBytesAs`).
 */
export async function checkSameResponses(
  gateways: { name: string; url: string }[],
  token: string,
  sameBytesAs: Record<string, string> = {},
): Promise<Map<string, Response>> {
  const responses = new Map<string, Response>();
  for (const gateway of gateways) {
    const response = await postTestQuery(gateway.url, token);
    const { data, errors } = response.body;
    if (response.status !== 200 || errors?.length)
      throw new Error(`${gateway.name} answered TestQuery with HTTP ${response.status}: ${response.text.slice(0, 500)}`);
    if (data?.users?.length !== 6 || data.topProducts?.length !== 5)
      throw new Error(`${gateway.name} answered TestQuery without the scenario's 6 users and 5 top products`);
    responses.set(gateway.name, response);
  }
  const [first, ...others] = [...responses];
  for (const [name, response] of others) {
    const difference = first ? firstDifference(first[1].body.data, response.body.data) : null;
    if (difference) throw new Error(`${first?.[0]} and ${name} answer TestQuery with different data, first at ${difference}`);
  }
  for (const [name, reference] of Object.entries(sameBytesAs)) {
    const [mine, theirs] = [responses.get(name), responses.get(reference)];
    const difference = mine && theirs ? firstByteDifference(mine.text, theirs.text) : null;
    if (difference) throw new Error(`${name} and ${reference} answer TestQuery with different bytes, ${difference}`);
  }
  return responses;
}
