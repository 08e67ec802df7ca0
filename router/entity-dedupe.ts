import type { RemoteGraphQLDataSource } from '@apollo/gateway';

type GatewayGraphQLResponse = Awaited<ReturnType<RemoteGraphQLDataSource['process']>>;

type Representation = Record<string, unknown>;

export interface DedupedRepresentations {
  unique: Representation[];
  /** For each representation the gateway built, its index in `unique`. */
  positions: Int32Array;
}

/** A trie over a representation's field names and values, in order; `index` marks a whole one. */
interface KeyNode {
  byValue?: Map<unknown, KeyNode>;
  /** Object and array values, by their JSON, apart so that they never meet an equal string. */
  byJson?: Map<string, KeyNode>;
  index?: number;
}

function child(node: KeyNode, value: unknown): KeyNode {
  const json = typeof value === 'object' && value !== null;
  const map = json ? (node.byJson ??= new Map()) : (node.byValue ??= new Map());
  const key = json ? JSON.stringify(value) : value;
  let next = map.get(key as string);
  if (!next) {
    next = {};
    map.set(key as string, next);
  }
  return next;
}

/**
 * @apollo/gateway sends one representation per occurrence of an entity in the response so far:
 * the federation benchmark's TestQuery sends 465 where 27 are distinct. Sending each distinct one
 * once saves the subgraph the resolving and both sides the (de)serializing. Null when there is
 * nothing to save.
 */
export function dedupeRepresentations(representations: readonly Representation[]): DedupedRepresentations | null {
  if (representations.length < 2) return null;
  // A trie of primitive names and values is several times cheaper than a JSON string per
  // representation.
  const root: KeyNode = {};
  const unique: Representation[] = [];
  const positions = new Int32Array(representations.length);
  for (let i = 0; i < representations.length; i++) {
    const representation = representations[i]!;
    let node = root;
    for (const name in representation) node = child(child(node, name), representation[name]);
    if (node.index === undefined) {
      node.index = unique.length;
      unique.push(representation);
    }
    positions[i] = node.index;
  }
  return unique.length === representations.length ? null : { unique, positions };
}

/**
 * Turns the subgraph's answer to the distinct representations back into the answer the gateway
 * asked for: `_entities` in the original order, and every error at `_entities.<i>` repeated for
 * each occurrence of that entity, in the order of the occurrences (as a subgraph resolving the
 * duplicates in order would have reported them). Duplicates share one object: they sit at the
 * same path of the plan, so every later fetch and the response shaping treat them alike.
 */
export function expandEntities(response: GatewayGraphQLResponse, { unique, positions }: DedupedRepresentations): GatewayGraphQLResponse {
  const entities = response.data?.['_entities'];
  if (!Array.isArray(entities) || entities.length !== unique.length) return response;
  const expanded = new Array<unknown>(positions.length);
  for (let i = 0; i < positions.length; i++) expanded[i] = entities[positions[i]!];
  const data = { ...response.data, _entities: expanded };
  if (!response.errors?.length) return { ...response, data };

  const occurrences: number[][] = unique.map(() => []);
  positions.forEach((position, original) => {
    occurrences[position]!.push(original);
  });
  // Errors elsewhere first, then each entity's, by its original index (stable within one).
  type FormattedError = (typeof response.errors)[number];
  const elsewhere: FormattedError[] = [];
  const atEntities: { index: number; error: FormattedError }[] = [];
  for (const error of response.errors) {
    const path = error.path;
    const index = path?.[0] === '_entities' ? path[1] : undefined;
    const originals = typeof index === 'number' ? occurrences[index] : undefined;
    if (!originals?.length) {
      elsewhere.push(error);
      continue;
    }
    for (const original of originals)
      atEntities.push({ index: original, error: { ...error, path: ['_entities', original, ...path!.slice(2)] } as typeof error });
  }
  atEntities.sort((a, b) => a.index - b.index);
  return { ...response, data, errors: [...elsewhere, ...atEntities.map((e) => e.error)] };
}
