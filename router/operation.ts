import {
  getNamedType,
  getNullableType,
  isAbstractType,
  isCompositeType,
  isListType,
  Kind,
  parse,
  valueFromASTUntyped,
  visit,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { FieldRules, SchemaIndex } from './schema-index.ts';

export interface OperationLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxRootFields: number;
  maxTokens: number;
  /** List size assumed for list fields without @listSize. */
  defaultListSize: number;
}

type Requirement = Pick<FieldRules, 'authenticated' | 'scopes'>;

/** A field occurrence that needs more than anonymity, with its response path. */
interface GuardedField {
  node: FieldNode;
  path: string[];
  requirement: Requirement;
}

/**
 * What the router learns of a document once, before any request runs it: the operation, its
 * shape against the limits, the fields that need authorization, and its root fields.
 */
export interface AnalyzedOperation {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  fragments: Map<string, FragmentDefinitionNode>;
  rootType: GraphQLCompositeType;
  rootFields: string[];
  guarded: GuardedField[];
  /** Set when the document breaks a limit; the request is refused with it. */
  violation?: string;
}

export type Variables = Record<string, unknown> | undefined;

/**
 * Parses and inspects a document. Returns null when the document is not something the router
 * can reason about (syntax or schema errors): Apollo Server then reports those as usual.
 */
export function analyzeOperation(
  index: SchemaIndex,
  query: string,
  operationName: string | undefined,
  limits: OperationLimits,
): AnalyzedOperation | { violation: string } | null {
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: limits.maxTokens, noLocation: true });
  } catch (error) {
    // graphql-js words it "more that N tokens".
    if (error instanceof Error && /more th(?:an|at) \d+ tokens/.test(error.message))
      return { violation: `Document has more than ${limits.maxTokens} tokens` };
    return null;
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName
    ? operations.find((o) => o.name?.value === operationName)
    : operations.length === 1
      ? operations[0]
      : undefined;
  if (!operation) return null;
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  const rootType = index.schema.getRootType(operation.operation);
  if (!rootType) return null;

  const guarded: GuardedField[] = [];
  let aliases = 0;
  let directives = operation.directives?.length ?? 0;
  let maxDepth = 0;
  let valid = true;

  function walk(selectionSet: SelectionSetNode, parent: GraphQLCompositeType, depth: number, path: string[], seen: Set<string>) {
    for (const selection of selectionSet.selections) {
      directives += selection.directives?.length ?? 0;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name === '__typename') continue;
        // Introspection is as deep as the type system, not as the data: it is not held to the depth limit.
        if (name === '__schema' || name === '__type') continue;
        const field = fieldOf(parent, name);
        if (!field) {
          valid = false;
          continue;
        }
        if (selection.alias) aliases++;
        maxDepth = Math.max(maxDepth, depth);
        const responsePath = [...path, selection.alias?.value ?? name];
        const rules = index.field(parent.name, name);
        if (rules && (rules.authenticated || rules.scopes)) guarded.push({ node: selection, path: responsePath, requirement: rules });
        const child = getNamedType(field.type);
        if (selection.selectionSet && isCompositeType(child)) walk(selection.selectionSet, child, depth + 1, responsePath, seen);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? index.schema.getType(selection.typeCondition.name.value) : parent;
        if (type && isCompositeType(type)) walk(selection.selectionSet, type, depth, path, seen);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || seen.has(fragment.name.value)) continue;
        const type = index.schema.getType(fragment.typeCondition.name.value);
        if (type && isCompositeType(type)) walk(fragment.selectionSet, type, depth, path, new Set([...seen, fragment.name.value]));
      }
    }
  }
  walk(operation.selectionSet, rootType, 1, [], new Set());
  if (!valid) return null;

  const rootFields = operation.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD ? [s.name.value] : []));
  const violation =
    maxDepth > limits.maxDepth
      ? `Query depth ${maxDepth} exceeds the maximum of ${limits.maxDepth}`
      : aliases > limits.maxAliases
        ? `${aliases} aliases exceed the maximum of ${limits.maxAliases}`
        : directives > limits.maxDirectives
          ? `${directives} directives exceed the maximum of ${limits.maxDirectives}`
          : rootFields.length > limits.maxRootFields
            ? `${rootFields.length} root fields exceed the maximum of ${limits.maxRootFields}`
            : undefined;
  return { document, operation, fragments, rootType, rootFields, guarded, violation };
}

function fieldOf(parent: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined {
  return 'getFields' in parent ? parent.getFields()[name] : undefined;
}

function argumentValue(node: FieldNode, name: string, variables: Variables): unknown {
  const arg = node.arguments?.find((a) => a.name.value === name);
  return arg ? literalValue(arg.value, variables) : undefined;
}

function literalValue(value: ValueNode, variables: Variables): unknown {
  return valueFromASTUntyped(value, variables ?? {});
}

function skipped(
  node: { directives?: readonly { name: { value: string }; arguments?: readonly { name: { value: string }; value: ValueNode }[] }[] },
  variables: Variables,
): boolean {
  for (const d of node.directives ?? []) {
    const condition = d.arguments?.find((a) => a.name.value === 'if');
    const value = condition ? Boolean(literalValue(condition.value, variables)) : undefined;
    if (d.name.value === 'skip' && value === true) return true;
    if (d.name.value === 'include' && value === false) return true;
  }
  return false;
}

export class CostError extends Error {}

/**
 * Estimated cost after the IBM GraphQL Cost Directives specification, as Apollo Router applies
 * it: composite types weigh 1 and leaves 0 unless @cost says otherwise, argument weights add,
 * lists multiply by their @listSize (slicing argument, assumed size, or the default), abstract
 * selections take their most expensive type, and a mutation adds 10.
 */
export function estimateCost(index: SchemaIndex, op: AnalyzedOperation, variables: Variables, defaultListSize: number): number {
  function listSizeOf(rules: FieldRules | undefined, node: FieldNode, field: GraphQLField<unknown, unknown>): number {
    const listSize = rules?.listSize;
    if (listSize?.slicingArguments?.length) {
      const values = listSize.slicingArguments.map((name) => {
        const given = argumentValue(node, name, variables);
        return given ?? field.args.find((a) => a.name === name)?.defaultValue;
      });
      const numbers = values.filter((v): v is number => typeof v === 'number');
      const given = listSize.slicingArguments.filter((name) => argumentValue(node, name, variables) !== undefined);
      if (listSize.requireOneSlicingArgument && given.length !== 1) {
        throw new CostError(`Field "${field.name}" needs exactly one of the arguments ${listSize.slicingArguments.join(', ')}`);
      }
      if (numbers.length) return Math.max(...numbers);
    }
    return listSize?.assumedSize ?? defaultListSize;
  }

  function selectionCost(
    selectionSet: SelectionSetNode,
    parent: GraphQLCompositeType,
    sized: { fields: Set<string>; size: number } | undefined,
    seen: Set<string>,
  ): number {
    let shared = 0;
    const byType = new Map<string, number>();
    const add = (typeName: string | undefined, cost: number) => {
      if (!typeName || typeName === parent.name || !isAbstractType(parent)) shared += cost;
      else byType.set(typeName, (byType.get(typeName) ?? 0) + cost);
    };
    for (const selection of selectionSet.selections) {
      if (skipped(selection, variables)) continue;
      if (selection.kind === Kind.FIELD) {
        const field = fieldOf(parent, selection.name.value);
        if (!field) continue;
        const rules = index.field(parent.name, selection.name.value);
        const named = getNamedType(field.type);
        const childSized = rules?.listSize?.sizedFields?.length
          ? { fields: new Set(rules.listSize.sizedFields), size: listSizeOf(rules, selection, field) }
          : undefined;
        const children =
          selection.selectionSet && isCompositeType(named) ? selectionCost(selection.selectionSet, named, childSized, seen) : 0;
        let args = 0;
        for (const [name, weight] of rules?.argumentWeights ?? [])
          if (argumentValue(selection, name, variables) !== undefined) args += weight;
        let cost = (rules?.weight ?? (isCompositeType(named) ? 1 : 0)) + children;
        const isList = isListType(getNullableType(field.type));
        if (sized?.fields.has(field.name)) cost *= sized.size;
        else if (isList && !childSized) cost *= listSizeOf(rules, selection, field);
        add(undefined, cost + args);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? index.schema.getType(selection.typeCondition.name.value) : parent;
        if (type && isCompositeType(type)) add(type.name, selectionCost(selection.selectionSet, type, sized, seen));
      } else {
        const fragment = op.fragments.get(selection.name.value);
        if (!fragment || seen.has(fragment.name.value)) continue;
        const type = index.schema.getType(fragment.typeCondition.name.value);
        if (type && isCompositeType(type))
          add(type.name, selectionCost(fragment.selectionSet, type, sized, new Set([...seen, fragment.name.value])));
      }
    }
    return shared + (byType.size ? Math.max(...byType.values()) : 0);
  }

  const base = op.operation.operation === 'mutation' ? 10 : 0;
  return base + selectionCost(op.operation.selectionSet, op.rootType, undefined, new Set());
}

/** A selection set's fields and fragments against one parent and owner type, resolved once. */
interface CostSelection {
  fields: { key: string; own: number; named: GraphQLCompositeType | undefined; selectionSet: SelectionSetNode | undefined }[];
  fragments: { selectionSet: SelectionSetNode; type: GraphQLCompositeType }[];
}

// Per selection set, parent type and owner type; dropped with the analysis (or schema) they came from.
const costSelections = new WeakMap<SelectionSetNode, Map<GraphQLCompositeType, Map<GraphQLCompositeType, CostSelection>>>();

function costSelection(
  index: SchemaIndex,
  op: AnalyzedOperation,
  selectionSet: SelectionSetNode,
  parent: GraphQLCompositeType,
  owner: GraphQLCompositeType,
): CostSelection {
  let byParent = costSelections.get(selectionSet);
  if (!byParent) costSelections.set(selectionSet, (byParent = new Map()));
  let byOwner = byParent.get(parent);
  if (!byOwner) byParent.set(parent, (byOwner = new Map()));
  let compiled = byOwner.get(owner);
  if (compiled) return compiled;
  compiled = { fields: [], fragments: [] };
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const field = fieldOf(owner, selection.name.value) ?? fieldOf(parent, selection.name.value);
      if (!field) continue;
      const named = getNamedType(field.type);
      const rules = index.field(owner.name, selection.name.value);
      compiled.fields.push({
        key: selection.alias?.value ?? selection.name.value,
        own: rules?.weight ?? (isCompositeType(named) ? 1 : 0),
        named: isCompositeType(named) ? named : undefined,
        selectionSet: selection.selectionSet,
      });
    } else {
      const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : op.fragments.get(selection.name.value);
      const typeName = fragment?.typeCondition?.name.value;
      const type = typeName ? index.schema.getType(typeName) : parent;
      if (fragment && type && isCompositeType(type)) compiled.fragments.push({ selectionSet: fragment.selectionSet, type });
    }
  }
  byOwner.set(owner, compiled);
  return compiled;
}

/**
 * The cost the response actually had: each object and leaf in the data, weighed as estimated. The
 * selections are resolved against the schema once per operation and type, then only the data is
 * walked.
 */
export function actualCost(index: SchemaIndex, op: AnalyzedOperation, data: unknown): number {
  function valueCost(
    value: unknown,
    own: number,
    named: GraphQLCompositeType | undefined,
    selectionSet: SelectionSetNode | undefined,
  ): number {
    if (value === null || value === undefined) return 0;
    if (Array.isArray(value)) {
      let sum = 0;
      for (const item of value) sum += valueCost(item, own, named, selectionSet);
      return sum;
    }
    return (
      own + (selectionSet && named && typeof value === 'object' ? objectCost(selectionSet, named, value as Record<string, unknown>) : 0)
    );
  }
  function objectCost(selectionSet: SelectionSetNode, parent: GraphQLCompositeType, data: Record<string, unknown>): number {
    const typename = data['__typename'];
    const concrete = typeof typename === 'string' ? index.schema.getType(typename) : undefined;
    const compiled = costSelection(index, op, selectionSet, parent, concrete && isCompositeType(concrete) ? concrete : parent);
    let cost = 0;
    for (const field of compiled.fields) {
      if (field.key in data) cost += valueCost(data[field.key], field.own, field.named, field.selectionSet);
    }
    for (const fragment of compiled.fragments) cost += objectCost(fragment.selectionSet, fragment.type, data);
    return cost;
  }
  const base = op.operation.operation === 'mutation' ? 10 : 0;
  return (
    base + (data && typeof data === 'object' ? objectCost(op.operation.selectionSet, op.rootType, data as Record<string, unknown>) : 0)
  );
}

export interface Caller {
  authenticated: boolean;
  scopes: ReadonlySet<string>;
}

const allowed = (requirement: Requirement, caller: Caller) =>
  (!requirement.authenticated || caller.authenticated) &&
  (!requirement.scopes || requirement.scopes.some((all) => all.every((scope) => caller.scopes.has(scope))));

export interface Authorization {
  /** The document without the fields the caller may not see; the original when nothing was removed. */
  document: DocumentNode;
  denied: { path: string[]; requirement: Requirement }[];
  /** Nothing was left to run. */
  empty: boolean;
}

/** Removes from the document every field the caller may not select (with whatever needed only it). */
export function authorize(op: AnalyzedOperation, caller: Caller): Authorization {
  // A field under a denied field goes with it and is not reported on its own.
  const denied = op.guarded
    .filter((g) => !allowed(g.requirement, caller))
    .filter(
      (g, _, all) =>
        !all.some((other) => other !== g && other.path.length < g.path.length && other.path.every((key, i) => g.path[i] === key)),
    );
  if (!denied.length) return { document: op.document, denied: [], empty: false };
  const removed = new Set(denied.map((g) => g.node));
  const pruneEmpty = {
    leave(node: { selectionSet?: SelectionSetNode }) {
      if (node.selectionSet && node.selectionSet.selections.length === 0) return null;
      return undefined;
    },
  };
  let document = visit(op.document, {
    Field: { enter: (node) => (removed.has(node) ? null : undefined), leave: pruneEmpty.leave },
    InlineFragment: pruneEmpty,
  });
  const emptyFragments = new Set(
    document.definitions.flatMap((d) =>
      d.kind === Kind.FRAGMENT_DEFINITION && d.selectionSet.selections.length === 0 ? [d.name.value] : [],
    ),
  );
  document = visit(document, {
    FragmentSpread: (node) => (emptyFragments.has(node.name.value) ? null : undefined),
    FragmentDefinition: (node) => (emptyFragments.has(node.name.value) ? null : undefined),
  });
  // Variables used only by removed fields would now fail validation as unused.
  const used = new Set<string>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION || definition.kind === Kind.FRAGMENT_DEFINITION) {
      visit(definition.selectionSet, { Variable: (node) => void used.add(node.name.value) });
      for (const d of definition.directives ?? []) visit(d, { Variable: (node) => void used.add(node.name.value) });
    }
  }
  document = visit(document, { VariableDefinition: (node) => (used.has(node.variable.name.value) ? undefined : null) });
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && d.name?.value === op.operation.name?.value,
  );
  return { document, denied, empty: !operation || operation.selectionSet.selections.length === 0 };
}
