import {
  ERRORS,
  errorCodeDef,
  isAbstractType,
  isDirectSubtype,
  isInterfaceType,
  isObjectType,
  type Operation,
  type Schema,
} from '@apollo/federation-internals';
import type { FetchDataRewrite, PlanNode, QueryPlan, QueryPlanSelectionNode, ResponsePath } from '@apollo/query-planner';
import { GraphQLError, type GraphQLErrorOptions, type GraphQLFormattedError } from 'graphql';
import { dedupeRepresentations, expandEntities } from './entity-dedupe.ts';
import { quoted } from './subgraph-source.ts';

/**
 * The execution of @apollo/query-planner's plans, as @apollo/gateway's executeQueryPlan does it
 * (the same fetches with the same inputs, the same merge of their results into one tree, the same
 * errors at the same paths), with the plan compiled once: the inputs of each entity fetch
 * (`requires`), type conditions and rewrites decided ahead of time, and no tracing objects built
 * per node. Each distinct entity representation is sent once (entity-dedupe.ts).
 */

type Data = Record<string, unknown>;
type Entity = Record<string, unknown>;

/** A subgraph's answer, parsed. */
export interface SubgraphResult {
  data?: Data | null;
  errors?: readonly GraphQLFormattedError[];
}

export interface CompiledFetch {
  kind: 'Fetch';
  subgraph: string;
  operation: string;
  operationName: string | undefined;
  /** A query or a mutation. */
  operationKind: string;
  variableUsages: readonly string[];
  requires: RequiredSelection[] | undefined;
  inputRewrites: CompiledRewrite[] | undefined;
  outputRewrites: CompiledRewrite[] | undefined;
}

type CompiledNode =
  | { kind: 'Sequence'; nodes: CompiledNode[] }
  | { kind: 'Parallel'; nodes: CompiledNode[] }
  | { kind: 'Flatten'; path: ResponsePath; node: CompiledNode }
  | CompiledFetch
  | {
      kind: 'Condition';
      variable: string;
      defaultValue: unknown;
      ifClause: CompiledNode | undefined;
      elseClause: CompiledNode | undefined;
    };

type RequiredSelection =
  | { field: true; responseName: string; selections: RequiredSelection[] | undefined }
  | {
      field: false /** undefined: a fragment without a type condition, which executeSelectionSet skips. */;
      appliesTo: Set<string> | undefined;
      selections: RequiredSelection[];
    };

type PathElement = { field: string } | { typeCondition: Set<string> };

interface CompiledRewrite {
  parent: PathElement[];
  last: string;
  rewrite: FetchDataRewrite;
}

export interface CompiledPlan {
  node: CompiledNode | undefined;
  subscription: boolean;
  /** Roughly the bytes the compiled plan holds. */
  bytes: number;
}

/** What the compiled plans need of the supergraph (not the API schema: `requires` may name inaccessible types). */
export interface PlanningSchema {
  supergraph: Schema;
  typeConditions: Map<string, Set<string>>;
}

export const planningSchema = (supergraph: Schema): PlanningSchema => ({ supergraph, typeConditions: new Map() });

/**
 * The type names an object may carry for isObjectOfType (dataRewrites.ts) to hold: the condition
 * itself, and for an abstract condition, its object and interface subtypes.
 */
function typeCondition(schema: PlanningSchema, name: string): Set<string> {
  let names = schema.typeConditions.get(name);
  if (!names) {
    names = new Set([name]);
    const condition = schema.supergraph.type(name);
    if (condition && isAbstractType(condition)) {
      for (const type of schema.supergraph.types()) {
        if ((isObjectType(type) || isInterfaceType(type)) && isDirectSubtype(condition, type)) names.add(type.name);
      }
    }
    schema.typeConditions.set(name, names);
  }
  return names;
}

function compileRequires(schema: PlanningSchema, selections: readonly QueryPlanSelectionNode[]): RequiredSelection[] {
  return selections.map((selection) =>
    selection.kind === 'Field'
      ? {
          field: true,
          responseName: selection.alias ?? selection.name,
          selections: selection.selections ? compileRequires(schema, selection.selections) : undefined,
        }
      : {
          field: false,
          appliesTo: selection.typeCondition ? typeCondition(schema, selection.typeCondition) : undefined,
          selections: compileRequires(schema, selection.selections),
        },
  );
}

const fragmentPrefix = '... on ';

function compileRewrites(schema: PlanningSchema, rewrites: FetchDataRewrite[] | undefined): CompiledRewrite[] | undefined {
  if (!rewrites?.length) return undefined;
  return rewrites.flatMap((rewrite) => {
    const last = rewrite.path[rewrite.path.length - 1];
    if (last === undefined) return [];
    if (last.startsWith(fragmentPrefix)) throw new Error(`Unexpected fragment as last element of ${rewrite.path.join(',')}`);
    const parent = rewrite.path
      .slice(0, -1)
      .map(
        (element): PathElement =>
          element.startsWith(fragmentPrefix)
            ? { typeCondition: typeCondition(schema, element.slice(fragmentPrefix.length)) }
            : { field: element },
      );
    return [{ parent, last, rewrite }];
  });
}

function compileNode(schema: PlanningSchema, operation: Operation, node: PlanNode): CompiledNode {
  switch (node.kind) {
    case 'Sequence':
    case 'Parallel':
      return { kind: node.kind, nodes: node.nodes.map((child) => compileNode(schema, operation, child)) };
    case 'Flatten':
      return { kind: 'Flatten', path: node.path, node: compileNode(schema, operation, node.node) };
    case 'Fetch':
      return {
        kind: 'Fetch',
        subgraph: node.serviceName,
        operation: node.operation,
        operationName: node.operationName,
        operationKind: node.operationKind,
        variableUsages: node.variableUsages ?? [],
        requires: node.requires ? compileRequires(schema, node.requires) : undefined,
        inputRewrites: compileRewrites(schema, node.inputRewrites),
        outputRewrites: compileRewrites(schema, node.outputRewrites),
      };
    case 'Condition':
      return {
        kind: 'Condition',
        variable: node.condition,
        defaultValue: operation.variableDefinitions.definition(node.condition)?.defaultValue,
        ifClause: node.ifClause ? compileNode(schema, operation, node.ifClause) : undefined,
        elseClause: node.elseClause ? compileNode(schema, operation, node.elseClause) : undefined,
      };
    case 'Defer':
      throw new Error('@defer support is not available in the gateway');
  }
}

function bytesOf(node: CompiledNode | undefined): number {
  if (!node) return 0;
  switch (node.kind) {
    case 'Sequence':
    case 'Parallel':
      return 100 + node.nodes.reduce((sum, child) => sum + bytesOf(child), 0);
    case 'Flatten':
      return 100 + bytesOf(node.node);
    case 'Fetch':
      return 500 + node.operation.length;
    case 'Condition':
      return 100 + bytesOf(node.ifClause) + bytesOf(node.elseClause);
  }
}

/** Compiles a plan of `operation` (the operation as @apollo/gateway builds it for execution). */
export function compilePlan(schema: PlanningSchema, operation: Operation, plan: QueryPlan): CompiledPlan {
  if (plan.node?.kind === 'Subscription') return { node: undefined, subscription: true, bytes: 0 };
  const node = plan.node ? compileNode(schema, operation, plan.node) : undefined;
  return { node, subscription: false, bytes: bytesOf(node) };
}

/** How one execution reaches the subgraphs. */
export type SendFetch = (fetch: CompiledFetch, body: string) => Promise<SubgraphResult>;

export interface Execution {
  /** The request's variables, as sent (@apollo/gateway forwards them uncoerced). */
  variables: Record<string, unknown> | undefined;
  /** Everything fetched so far, merged: what the response is shaped from. */
  data: Data;
  errors: Error[];
  send: SendFetch;
  /** Where the paths of errors that subgraphs report are collected (usage reporting). */
  errorPaths?: { subgraph: string; path: GraphQLFormattedError['path'] }[];
}

interface Cursor {
  path: ResponsePath;
  data: Entity | Entity[];
}

const hasOwn = (object: object, name: string) => Object.hasOwn(object, name);
const getOwn = (object: Data, name: string) => (hasOwn(object, name) ? object[name] : undefined);

function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Error(message());
}

const isObject = (value: unknown): value is Data => typeof value === 'object' && value !== null && !Array.isArray(value);

/** deepMerge of @apollo/gateway (utilities/deepMerge.ts). */
function deepMerge(target: Data, source: unknown): void {
  if (source === undefined || source === null) return;
  const from = source as Data;
  for (const key of Object.keys(from)) {
    const value = from[key];
    if (value === undefined) continue;
    if (!hasOwn(target, key) && key in target)
      Object.defineProperty(target, key, { configurable: true, enumerable: true, value: undefined, writable: true });
    const current = target[key];
    if (current && isObject(value)) {
      deepMerge(current as Data, value);
    } else if (Array.isArray(value) && Array.isArray(current) && value.length === current.length) {
      for (let i = 0; i < value.length; i++) {
        const element = value[i];
        if (isObject(current[i]) && isObject(element)) deepMerge(current[i] as Data, element);
        else current[i] = element;
      }
    } else {
      target[key] = value;
    }
  }
}

/** isObjectOfType of dataRewrites.ts: `orUnknown` when the object has no __typename. */
function isOfType(object: Data, names: Set<string>, orUnknown: boolean): boolean {
  const typename = object['__typename'];
  if (!typename) return orUnknown;
  return names.has(typename as string);
}

function applyAt(path: PathElement[], index: number, value: unknown, apply: (object: Data) => void) {
  if (Array.isArray(value)) {
    for (const element of value) applyAt(path, index, element, apply);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (index === path.length) return apply(value as Data);
  const element = path[index]!;
  if ('field' in element) applyAt(path, index + 1, getOwn(value as Data, element.field), apply);
  else if (isOfType(value as Data, element.typeCondition, true)) applyAt(path, index + 1, value, apply);
}

/** applyRewrites of dataRewrites.ts. */
function applyRewrites(rewrites: CompiledRewrite[] | undefined, value: unknown) {
  if (!rewrites) return;
  for (const { parent, last, rewrite } of rewrites) {
    applyAt(parent, 0, value, (object) => {
      if (rewrite.kind === 'ValueSetter') {
        if (!hasOwn(object, last) && last in object)
          Object.defineProperty(object, last, { configurable: true, enumerable: true, value: undefined, writable: true });
        object[last] = rewrite.setValueTo;
        return;
      }
      const renamed = getOwn(object, last);
      if (renamed) {
        if (!hasOwn(object, rewrite.renameKeyTo) && rewrite.renameKeyTo in object) {
          Object.defineProperty(object, rewrite.renameKeyTo, { configurable: true, enumerable: true, value: undefined, writable: true });
        }
        object[rewrite.renameKeyTo] = renamed;
        object[last] = undefined;
      }
    });
  }
}

/** executeSelectionSet of executeQueryPlan.ts: an entity's representation, or null when an input is missing. */
function representationOf(source: Data | null, selections: RequiredSelection[]): Data | null {
  if (source === null) return null;
  const result: Data = {};
  for (const selection of selections) {
    if (selection.field) {
      const name = selection.responseName;
      if (!hasOwn(source, name) || source[name] === undefined) return null;
      const value = source[name];
      const nested = selection.selections;
      if (Array.isArray(value))
        result[name] = value.map((element: unknown) => (nested ? representationOf(element as Data | null, nested) : element));
      else if (nested) result[name] = representationOf(value as Data | null, nested);
      else result[name] = value;
    } else {
      if (!selection.appliesTo) continue;
      if (isOfType(source, selection.appliesTo, false)) deepMerge(result, representationOf(source, selection.selections));
    }
  }
  return result;
}

/** flattenResultsAtPath of executeQueryPlan.ts. */
function flattenAt(value: unknown, path: ResponsePath, index: number): unknown {
  if (index === path.length) return value;
  if (value === undefined || value === null) return value;
  const current = path[index];
  if (current === '@') {
    if (!Array.isArray(value)) throw new TypeError('value.flatMap is not a function');
    const flat: unknown[] = [];
    for (const element of value) {
      const found = flattenAt(element, path, index + 1);
      if (Array.isArray(found)) for (const item of found) flat.push(item);
      else flat.push(found);
    }
    return flat;
  }
  check(typeof current === 'string', () => `Unexpected ${typeof current} found in path`);
  check(!Array.isArray(value), () => `Unexpected array in result for path element ${String(current)}`);
  return flattenAt(getOwn(value as Data, current as string), path, index + 1);
}

/** generateHydratedPaths of executeQueryPlan.ts. */
function hydratedPaths(parent: ResponsePath, path: ResponsePath, index: number, data: unknown, result: ResponsePath[]) {
  if (data === undefined || data === null) return;
  const head = path[index];
  if (head === undefined) {
    result.push(parent.slice());
  } else if (head === '@') {
    check(Array.isArray(data), () => 'expected array when encountering `@`');
    (data as unknown[]).forEach((value, i) => {
      parent.push(i);
      hydratedPaths(parent, path, index + 1, value, result);
      parent.pop();
    });
  } else if (typeof head === 'string') {
    if (Array.isArray(data)) {
      data.forEach((value: unknown, i) => {
        parent.push(i);
        hydratedPaths(parent, path, index, value, result);
        parent.pop();
      });
    } else if (hasOwn(data as Data, head)) {
      parent.push(head);
      hydratedPaths(parent, path, index + 1, (data as Data)[head], result);
      parent.pop();
    }
  } else {
    check(false, () => `unknown path part "${String(head)}"`);
  }
}

/** makeLazyErrorPathGenerator of executeQueryPlan.ts: the error's path in the response. */
function errorPathsFor(fetch: CompiledFetch, cursor: Cursor, fullResult: Data) {
  let hydrated: ResponsePath[] | undefined;
  return (errorPath: GraphQLFormattedError['path']): GraphQLErrorOptions['path'] => {
    if (fetch.requires && typeof errorPath?.[1] === 'number') {
      if (!hydrated) {
        hydrated = [];
        hydratedPaths([], cursor.path, 0, fullResult, hydrated);
      }
      return [...(hydrated[errorPath[1]] ?? []), ...errorPath.slice(2)];
    }
    return errorPath ? [...cursor.path, ...errorPath.slice()] : undefined;
  };
}

/** downstreamServiceError of executeQueryPlan.ts. */
function downstreamServiceError(
  original: GraphQLFormattedError,
  subgraph: string,
  pathOf: (path: GraphQLFormattedError['path']) => GraphQLErrorOptions['path'],
): GraphQLError {
  const message = original.message || `Error while fetching subquery from service "${subgraph}"`;
  const { extensions } = original;
  const options: GraphQLErrorOptions = {
    originalError: original as Error,
    path: pathOf(original.path),
    extensions: { ...extensions, serviceName: subgraph },
  };
  const codeDef = errorCodeDef(original);
  if (!codeDef && extensions?.['code']) return new GraphQLError(message, options);
  return (codeDef ?? ERRORS.DOWNSTREAM_SERVICE_ERROR).err(message, options);
}

/** sendOperation of executeQueryPlan.ts, with each distinct representation sent once. */
async function send(execution: Execution, fetch: CompiledFetch, cursor: Cursor, variables: Data): Promise<Data | null | undefined> {
  const representations = variables['representations'];
  const deduped = Array.isArray(representations) ? dedupeRepresentations(representations as Entity[]) : null;
  const sent = deduped ? { ...variables, representations: deduped.unique } : variables;
  const body = `{"query":${quoted(fetch.operation)}${fetch.operationName ? `,"operationName":${JSON.stringify(fetch.operationName)}` : ''},"variables":${JSON.stringify(sent)}}`;
  let response = await execution.send(fetch, body);
  if (deduped) response = expandEntities(response, deduped);
  if (response.errors) {
    const pathOf = errorPathsFor(fetch, cursor, execution.data);
    for (const error of response.errors) execution.errors.push(downstreamServiceError(error, fetch.subgraph, pathOf));
    for (const error of response.errors) (execution.errorPaths ??= []).push({ subgraph: fetch.subgraph, path: error.path });
  }
  return response.data;
}

/** executeFetch of executeQueryPlan.ts. */
async function executeFetch(execution: Execution, fetch: CompiledFetch, cursor: Cursor): Promise<void> {
  const entities: Entity[] = [];
  if (Array.isArray(cursor.data)) {
    for (const entity of cursor.data) if (entity !== null && entity !== undefined) entities.push(entity);
  } else {
    entities.push(cursor.data);
  }
  if (entities.length < 1) return;

  const variables: Data = {};
  const provided = execution.variables;
  for (const name of fetch.variableUsages) {
    if (provided && hasOwn(provided, name) && provided[name] !== undefined) variables[name] = provided[name];
  }

  if (!fetch.requires) {
    const received = await send(execution, fetch, cursor, variables);
    if (received) applyRewrites(fetch.outputRewrites, received);
    for (const entity of entities) deepMerge(entity, received);
    return;
  }

  const representations: Data[] = [];
  const representationToEntity: number[] = [];
  for (let i = 0; i < entities.length; i++) {
    const representation = representationOf(entities[i]!, fetch.requires);
    if (representation?.['__typename']) {
      applyRewrites(fetch.inputRewrites, representation);
      representations.push(representation);
      representationToEntity.push(i);
    }
  }
  if (representations.length < 1) return;
  if ('representations' in variables) throw new Error('Variables cannot contain key "representations"');

  const received = await send(execution, fetch, cursor, { ...variables, representations });
  if (!received) return;
  const receivedEntities = received['_entities'];
  if (!(receivedEntities && Array.isArray(receivedEntities))) throw new Error('Expected "data._entities" in response to be an array');
  if (receivedEntities.length !== representations.length)
    throw new Error(`Expected "data._entities" to contain ${representations.length} elements`);
  for (let i = 0; i < representations.length; i++) {
    const receivedEntity = receivedEntities[i] as Entity | null;
    const existingEntity = entities[representationToEntity[i]!]!;
    if (receivedEntity && !receivedEntity['__typename']) receivedEntity['__typename'] = existingEntity['__typename'];
    applyRewrites(fetch.outputRewrites, receivedEntity);
    deepMerge(existingEntity, receivedEntity);
  }
}

/** evaluateCondition of @apollo/query-planner. */
function conditionHolds(execution: Execution, variable: string, defaultValue: unknown): boolean {
  let value = execution.variables ? getOwn(execution.variables, variable) : undefined;
  if (value === undefined) value = defaultValue;
  check(value !== undefined, () => `Missing value for variable $${variable} (and no default found)`);
  check(typeof value === 'boolean', () => `Invalid non-boolean value ${String(value)} for Boolean! variable $${variable}`);
  return value as boolean;
}

/** executeNode of executeQueryPlan.ts. */
async function executeNode(execution: Execution, node: CompiledNode, cursor: Cursor | undefined): Promise<void> {
  if (!cursor) return;
  switch (node.kind) {
    case 'Sequence':
      for (const child of node.nodes) await executeNode(execution, child, cursor);
      return;
    case 'Parallel':
      await Promise.all(node.nodes.map((child) => executeNode(execution, child, cursor)));
      return;
    case 'Flatten': {
      const data = flattenAt(cursor.data, node.path, 0);
      return executeNode(execution, node.node, data ? { path: cursor.path.concat(node.path), data: data as Entity | Entity[] } : undefined);
    }
    case 'Fetch':
      try {
        await executeFetch(execution, node, cursor);
      } catch (error) {
        execution.errors.push(error as Error);
      }
      return;
    case 'Condition': {
      const branch = conditionHolds(execution, node.variable, node.defaultValue) ? node.ifClause : node.elseClause;
      if (branch) await executeNode(execution, branch, cursor);
      return;
    }
  }
}

/** Runs a compiled plan; the merged data is in `execution.data`, the fetch errors in `execution.errors`. */
export async function executePlan(plan: CompiledPlan, execution: Execution): Promise<void> {
  if (plan.subscription) throw new Error('Execution of subscriptions not supported by gateway');
  if (plan.node) await executeNode(execution, plan.node, { path: [], data: execution.data });
}
