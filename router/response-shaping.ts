import {
  ERRORS,
  isCompositeType,
  isCustomScalarType,
  isEnumType,
  isListType,
  isNonNullType,
  isObjectType,
  isSubtype,
  typenameFieldName,
  Variable,
  type CompositeType,
  type EnumType,
  type NamedType,
  type Operation,
  type OperationElement,
  type OutputType,
  type Schema,
  type SelectionSet,
} from '@apollo/federation-internals';
import type { FieldNode, GraphQLError } from 'graphql';

/**
 * The response of an operation shaped from the data its plan fetched, as @apollo/gateway's
 * `computeResponse` shapes it (resultShaping.ts), byte for byte: the same field order, null
 * propagation, errors and messages. The difference is when the work is done: the operation's
 * selections are compiled once per plan into plain objects (types resolved, @skip/@include
 * reduced to a variable name or a constant, fragments to the set of type names they apply to),
 * where `computeResponse` asks @apollo/federation-internals for each of them on every request.
 */

/** `true`/`false`, or the variable that decides (and the directive, for the message when it has no boolean). */
type Condition = boolean | { variable: string; directive: string };

interface TypeInfo {
  name: string;
  object: boolean;
  composite: boolean;
}

type Shape =
  | { kind: 'nonNull'; ofType: Shape /** How the wrapped type prints in a message. */; inner: string }
  | { kind: 'list'; ofType: Shape; printed: string }
  | { kind: 'composite'; name: string }
  | { kind: 'leaf'; name: string; valid: (value: unknown) => boolean };

interface FieldShape {
  field: true;
  responseName: string;
  /** A name Object.prototype also has: read as an own property only. */
  inherited: boolean;
  skip: Condition | undefined;
  include: Condition | undefined;
  typename: boolean;
  /** `__schema` or `__type`, answered by graphql-js from the API schema: the field with its fragments expanded. */
  introspection: FieldNode | undefined;
  type: Shape;
  selections: SelectionShape[] | undefined;
}

interface FragmentShape {
  field: false;
  skip: Condition | undefined;
  include: Condition | undefined;
  /** The type condition, or undefined without one. */
  condition: TypeInfo | undefined;
  /** The type names the condition applies to. */
  appliesTo: Set<string> | undefined;
  selections: SelectionShape[];
}

type SelectionShape = FieldShape | FragmentShape;

export interface CompiledShape {
  root: TypeInfo;
  selections: SelectionShape[];
  /** The variables' default values, which the request's values override. */
  defaults: Record<string, unknown>;
  /** How many selections were compiled. */
  size: number;
}

/** What the compiled shapes need of the API schema, shared by every operation planned over it. */
export interface ShapingSchema {
  schema: Schema;
  types: Map<string, TypeInfo>;
  appliesTo: Map<string, Set<string>>;
  /** One shape per output type, as printed (`[User!]`), shared by every operation. */
  shapes: Map<string, Shape>;
}

export function shapingSchema(schema: Schema): ShapingSchema {
  const types = new Map<string, TypeInfo>();
  for (const type of schema.allTypes())
    types.set(type.name, { name: type.name, object: isObjectType(type), composite: isCompositeType(type) });
  return { schema, types, appliesTo: new Map(), shapes: new Map() };
}

const objectPrototypeNames = new Set(Object.getOwnPropertyNames(Object.prototype));

const integer = /^-?(?:0|[1-9][0-9]*)$/;

/** isValidLeafValue of @apollo/federation-internals, with the type decided once. */
function leafValidator(schema: Schema, type: NamedType): (value: unknown) => boolean {
  if (isCustomScalarType(type)) return () => true;
  const isBoolean = type === schema.booleanType();
  const isInt = type === schema.intType();
  const isIntOrId = isInt || type === schema.idType();
  const isFloat = type === schema.floatType();
  const enumType = isEnumType(type) ? (type as EnumType) : undefined;
  const anyString = !isBoolean && !isInt && !isFloat;
  return (value) => {
    switch (typeof value) {
      case 'boolean':
        return isBoolean;
      case 'number':
        if (!Number.isFinite(value)) return false;
        return isIntOrId ? integer.test(String(value)) : isFloat;
      case 'string':
        return enumType ? enumType.value(value) !== undefined : anyString;
      default:
        return false;
    }
  };
}

function conditionOf(element: OperationElement, name: 'skip' | 'include', schema: Schema): Condition | undefined {
  const directive = element.appliedDirectivesOf(name === 'skip' ? schema.skipDirective() : schema.includeDirective())[0];
  if (!directive) return undefined;
  const value = (directive.arguments() as { if: boolean | Variable }).if;
  return value instanceof Variable ? { variable: value.name, directive: String(directive) } : value;
}

function shapeOf(schemaInfo: ShapingSchema, type: OutputType): Shape {
  const printed = String(type);
  let shape = schemaInfo.shapes.get(printed);
  if (!shape) {
    if (isNonNullType(type)) shape = { kind: 'nonNull', ofType: shapeOf(schemaInfo, type.ofType), inner: String(type.ofType) };
    else if (isListType(type)) shape = { kind: 'list', ofType: shapeOf(schemaInfo, type.ofType), printed };
    else if (isCompositeType(type)) shape = { kind: 'composite', name: type.name };
    else shape = { kind: 'leaf', name: type.name, valid: leafValidator(schemaInfo.schema, type) };
    schemaInfo.shapes.set(printed, shape);
  }
  return shape;
}

function appliesTo(schemaInfo: ShapingSchema, condition: CompositeType): Set<string> {
  let names = schemaInfo.appliesTo.get(condition.name);
  if (!names) {
    names = new Set();
    for (const type of schemaInfo.schema.allTypes()) if (isSubtype(condition, type)) names.add(type.name);
    schemaInfo.appliesTo.set(condition.name, names);
  }
  return names;
}

interface CompileState {
  /** Each selection set compiled once: a named fragment spread in several places shares one. */
  compiled: Map<SelectionSet, SelectionShape[]>;
  /** Selections compiled, a measure of the memory the shape holds. */
  size: number;
}

function compileSelections(schemaInfo: ShapingSchema, selectionSet: SelectionSet, state: CompileState): SelectionShape[] {
  let compiled = state.compiled.get(selectionSet);
  if (!compiled) {
    compiled = compileSelectionSet(schemaInfo, selectionSet, state);
    state.compiled.set(selectionSet, compiled);
    state.size += compiled.length;
  }
  return compiled;
}

function compileSelectionSet(schemaInfo: ShapingSchema, selectionSet: SelectionSet, state: CompileState): SelectionShape[] {
  const { schema } = schemaInfo;
  return selectionSet.selections().map((selection): SelectionShape => {
    const skip = conditionOf(selection.element, 'skip', schema);
    const include = conditionOf(selection.element, 'include', schema);
    if (selection.kind === 'FieldSelection') {
      const field = selection.element;
      const introspection = field.definition.isSchemaIntrospectionField();
      return {
        field: true,
        responseName: field.responseName(),
        inherited: objectPrototypeNames.has(field.responseName()),
        skip,
        include,
        typename: field.name === typenameFieldName,
        introspection: introspection ? (selection.expandFragments().toSelectionNode() as FieldNode) : undefined,
        type: shapeOf(schemaInfo, field.definition.type!),
        selections: selection.selectionSet && !introspection ? compileSelections(schemaInfo, selection.selectionSet, state) : undefined,
      };
    }
    const condition = selection.element.typeCondition;
    return {
      field: false,
      skip,
      include,
      condition: condition ? schemaInfo.types.get(condition.name) : undefined,
      appliesTo: condition ? appliesTo(schemaInfo, condition) : undefined,
      selections: compileSelections(schemaInfo, selection.selectionSet, state),
    };
  });
}

/** Compiles an operation, as @apollo/gateway builds it for shaping (operationFromDocument), once per plan. */
export function compileShape(schemaInfo: ShapingSchema, operation: Operation): CompiledShape {
  const state: CompileState = { compiled: new Map(), size: 0 };
  const rootType = schemaInfo.schema.schemaDefinition.rootType(operation.rootKind);
  if (!rootType) throw new Error(`The schema has no ${operation.rootKind} root type`);
  const selections = compileSelections(schemaInfo, operation.selectionSet, state);
  return { root: schemaInfo.types.get(rootType.name)!, selections, defaults: operation.collectDefaultedVariableValues(), size: state.size };
}

interface ShapingState {
  types: Map<string, TypeInfo>;
  variables: Record<string, unknown>;
  errors: GraphQLError[];
  introspect: (selection: FieldNode) => unknown;
}

/** Federation-internals' assert, whose message a failed shaping answers with. */
function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Error(message());
}

function conditionValue(condition: Condition, variables: Record<string, unknown>): boolean {
  if (typeof condition === 'boolean') return condition;
  const value = variables[condition.variable];
  check(
    value !== undefined && typeof value === 'boolean',
    () => `Unexpected value ${String(value)} for variable $${condition.variable} of ${condition.directive}`,
  );
  return value;
}

function skipped(selection: SelectionShape, variables: Record<string, unknown>): boolean {
  return (
    (selection.skip !== undefined && conditionValue(selection.skip, variables)) ||
    (selection.include !== undefined && !conditionValue(selection.include, variables))
  );
}

const own = (object: Record<string, unknown>, name: string) => (Object.hasOwn(object, name) ? object[name] : undefined);

function describe(path: (string | number)[], printedType: string, parentType: TypeInfo): string {
  const element = path[path.length - 1];
  return typeof element === 'string'
    ? `field ${parentType.name}.${element}`
    : `array element of type ${printedType} at index ${String(element)}`;
}

// What updateOutputValue returns beside the value, read by its caller right after the call.
let invalid = false;
let hasErrors = false;

function result<T>(value: T, isInvalid: boolean, errors: boolean): T {
  invalid = isInvalid;
  hasErrors = errors;
  return value;
}

/** updateOutputValue of resultShaping.ts. */
function update(
  outputValue: unknown,
  type: Shape,
  inputValue: unknown,
  selections: SelectionShape[] | undefined,
  path: (string | number)[],
  state: ShapingState,
  parentType: TypeInfo,
): unknown {
  if (outputValue === null || (outputValue !== undefined && !selections)) return result(outputValue, false, false);
  if (type.kind === 'nonNull') {
    const updated = update(outputValue, type.ofType, inputValue, selections, path, state, parentType);
    if (updated !== null) return result(updated, false, false);
    if (!hasErrors)
      state.errors.push(
        ERRORS.INVALID_GRAPHQL.err(`Cannot return null for non-nullable ${describe(path, type.inner, parentType)}.`, {
          path: Array.from(path),
        }),
      );
    return result(updated, true, true);
  }
  // Nullable from here: a null is fine as it is.
  if (inputValue === null) return result(null, false, false);
  switch (type.kind) {
    case 'list': {
      check(
        Array.isArray(inputValue),
        () => `Invalid non-list value ${String(inputValue)} returned by subgraph for list type ${type.printed}`,
      );
      check(
        outputValue === undefined || Array.isArray(outputValue),
        () => `Invalid non-list value ${String(outputValue)} returned by subgraph for list type ${type.printed}`,
      );
      const existing = outputValue as unknown[] | undefined;
      const length = inputValue.length;
      check(
        existing === undefined || existing.length === length,
        () => `[${String(inputValue)}].length (${length}) !== [${String(existing)}].length (${existing?.length})`,
      );
      const updated = new Array<unknown>(length);
      let nullify = false;
      let errors = false;
      for (let i = 0; i < length; i++) {
        path.push(i);
        updated[i] = update(existing?.[i], type.ofType, inputValue[i], selections, path, state, parentType);
        path.pop();
        nullify ||= invalid;
        errors ||= hasErrors;
      }
      return result(nullify ? null : updated, false, errors);
    }
    case 'composite': {
      check(selections !== undefined, () => `Invalid empty selection set for composite type ${type.name}`);
      check(
        typeof inputValue === 'object',
        () => `Invalid non-object value ${String(inputValue)} returned by subgraph for composite type ${type.name}`,
      );
      check(
        outputValue === undefined || typeof outputValue === 'object',
        () => `Invalid non-object value ${String(inputValue)} returned by subgraph for composite type ${type.name}`,
      );
      const input = inputValue as Record<string, unknown>;
      const inputTypename = input[typenameFieldName];
      check(
        inputTypename === undefined || typeof inputTypename === 'string',
        () => `Invalid non-string value ${String(inputTypename)} for __typename at ${String(path)}`,
      );
      let objectType = state.types.get(type.name)!;
      if (inputTypename) {
        const named = state.types.get(inputTypename);
        if (!named?.composite) {
          state.errors.push(
            ERRORS.INVALID_GRAPHQL.err(`Invalid __typename found for object at ${describe(path, type.name, parentType)}.`, {
              path: Array.from(path),
            }),
          );
          return result(null, false, true);
        }
        objectType = named;
      }
      const output = (outputValue ?? {}) as Record<string, unknown>;
      const bubbled = applySelections(input, selections, output, state, path, objectType);
      return result(bubbled ? null : output, false, bubbled);
    }
    case 'leaf': {
      check(outputValue === undefined, () => `Excepted output to be undefined but got ${type.name} for type ${type.name}`);
      const valid = type.valid(inputValue);
      if (!valid)
        state.errors.push(
          ERRORS.INVALID_GRAPHQL.err(`Invalid value found for ${describe(path, type.name, parentType)}.`, { path: Array.from(path) }),
        );
      return result(valid ? inputValue : null, false, !valid);
    }
  }
}

function set(output: Record<string, unknown>, name: string, value: unknown) {
  if (name === '__proto__') Object.defineProperty(output, name, { value, enumerable: true, writable: true, configurable: true });
  else output[name] = value;
}

/** applySelectionSet of resultShaping.ts; true when a null bubbles up to the object. */
function applySelections(
  input: Record<string, unknown>,
  selections: SelectionShape[],
  output: Record<string, unknown>,
  state: ShapingState,
  path: (string | number)[],
  parentType: TypeInfo,
): boolean {
  for (const selection of selections) {
    if ((selection.skip !== undefined || selection.include !== undefined) && skipped(selection, state.variables)) continue;
    if (selection.field) {
      const responseName = selection.responseName;
      const outputValue = selection.inherited ? own(output, responseName) : output[responseName];
      if (selection.introspection) {
        if (outputValue === undefined) set(output, responseName, state.introspect(selection.introspection));
        continue;
      }
      let inputValue = (selection.inherited ? own(input, responseName) : input[responseName]) ?? null;
      if (selection.typename) {
        if (outputValue === undefined) {
          if (inputValue === null && responseName !== typenameFieldName) inputValue = input[typenameFieldName] ?? null;
          const type = typeof inputValue === 'string' ? (state.types.get(inputValue) ?? parentType) : parentType;
          if (!type.object) return true;
          set(output, responseName, type.name);
        }
        continue;
      }
      path.push(responseName);
      const updated = update(outputValue, selection.type, inputValue, selection.selections, path, state, parentType);
      set(output, responseName, updated);
      path.pop();
      if (invalid) return true;
    } else {
      const typename = input[typenameFieldName];
      check(!typename || typeof typename === 'string', () => `Got unexpected value for __typename: ${String(typename)}`);
      const applies =
        !selection.appliesTo || (typename ? selection.appliesTo.has(typename as string) : selection.appliesTo.has(parentType.name));
      if (applies && applySelections(input, selection.selections, output, state, path, selection.condition ?? parentType)) return true;
    }
  }
  return false;
}

/** computeResponse of resultShaping.ts over a compiled shape. */
export function shapeResponse(
  shape: CompiledShape,
  types: Map<string, TypeInfo>,
  input: Record<string, unknown> | null | undefined,
  variables: Record<string, unknown> | undefined,
  introspect: (selection: FieldNode) => unknown,
): { data: Record<string, unknown> | null | undefined; errors: GraphQLError[] } {
  if (!input) return { data: input, errors: [] };
  const state: ShapingState = { types, variables: { __proto__: null, ...shape.defaults, ...variables }, errors: [], introspect };
  const data: Record<string, unknown> = {};
  const bubbled = applySelections(input, shape.selections, data, state, [], shape.root);
  return { data: bubbled ? null : data, errors: state.errors };
}
