import {
  buildASTSchema,
  getNamedType,
  isCompositeType,
  isObjectType,
  isInterfaceType,
  parse,
  valueFromASTUntyped,
  type ConstDirectiveNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';

export interface ListSize {
  assumedSize?: number;
  slicingArguments?: string[];
  sizedFields?: string[];
  requireOneSlicingArgument: boolean;
}

/** What the router must know of a field before planning: its cost and who may select it. */
export interface FieldRules {
  /** @cost on the field, else on its type, else 1 for composite types and 0 for leaves. */
  weight: number;
  argumentWeights: Map<string, number>;
  listSize?: ListSize;
  authenticated: boolean;
  /** @requiresScopes: any one inner list, all of whose scopes, grants access. */
  scopes?: string[][];
}

export interface SchemaIndex {
  schema: GraphQLSchema;
  field(parent: string, name: string): FieldRules | undefined;
}

const directive = (nodes: readonly ConstDirectiveNode[] | undefined, name: string) => nodes?.find((d) => d.name.value === name);
const argument = (node: ConstDirectiveNode | undefined, name: string) => {
  const arg = node?.arguments?.find((a) => a.name.value === name);
  return arg ? valueFromASTUntyped(arg.value) : undefined;
};

function typeRules(type: GraphQLNamedType) {
  const directives = type.astNode?.directives;
  const cost = argument(directive(directives, 'cost'), 'weight') as number | undefined;
  return {
    weight: cost ?? (isCompositeType(type) ? 1 : 0),
    authenticated: directive(directives, 'authenticated') !== undefined,
    scopes: argument(directive(directives, 'requiresScopes'), 'scopes') as string[][] | undefined,
  };
}

/** Both requirements at once: each way to meet one, joined with each way to meet the other. */
function bothScopes(a: string[][] | undefined, b: string[][] | undefined): string[][] | undefined {
  if (!a?.length) return b?.length ? b : undefined;
  if (!b?.length) return a;
  return a.flatMap((left) => b.map((right) => [...new Set([...left, ...right])]));
}

function fieldRules(field: GraphQLField<unknown, unknown>): FieldRules {
  const directives = field.astNode?.directives;
  const type = typeRules(getNamedType(field.type));
  const cost = argument(directive(directives, 'cost'), 'weight') as number | undefined;
  const listSize = directive(directives, 'listSize');
  // A field's and its type's @requiresScopes must both be met, as Apollo Router reads them.
  const scopes = bothScopes(argument(directive(directives, 'requiresScopes'), 'scopes') as string[][] | undefined, type.scopes);
  return {
    weight: cost ?? type.weight,
    argumentWeights: new Map(
      field.args.flatMap((arg) => {
        const weight = argument(directive(arg.astNode?.directives, 'cost'), 'weight') as number | undefined;
        return weight === undefined ? [] : [[arg.name, weight] as const];
      }),
    ),
    listSize: listSize && {
      assumedSize: argument(listSize, 'assumedSize') as number | undefined,
      slicingArguments: argument(listSize, 'slicingArguments') as string[] | undefined,
      sizedFields: argument(listSize, 'sizedFields') as string[] | undefined,
      requireOneSlicingArgument: (argument(listSize, 'requireOneSlicingArgument') as boolean | undefined) ?? true,
    },
    authenticated: directive(directives, 'authenticated') !== undefined || type.authenticated,
    scopes,
  };
}

/**
 * Reads the cost and authorization directives that composition carried into the supergraph
 * (@cost, @listSize, @authenticated, @requiresScopes) into a lookup by `Type.field`.
 */
export function indexSupergraph(supergraphSdl: string): SchemaIndex {
  const document = parse(supergraphSdl);
  const schema = buildASTSchema(document, { assumeValidSDL: true });
  // Type, then field: no string is built per lookup on the request path.
  const rules = new Map<string, Map<string, FieldRules>>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue;
    rules.set(type.name, new Map(Object.values(type.getFields()).map((field) => [field.name, fieldRules(field)])));
  }
  return { schema, field: (parent, name) => rules.get(parent)?.get(name) };
}
