import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  typeFromAST,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';

/**
 * The schema coordinates an operation uses: `Type`, `Type.field`, `Type.field.argument` and
 * `Enum.VALUE`, found with a TypeInfo walk: the fields it selects (and their types), the arguments
 * it passes, and every field and enum value of the input types it sends. An input type counts
 * whole: what a variable holds differs from request to request, so each of its fields is taken
 * as used. Shared by the schema check (the SDK's manifest) and the router's usage reports, so
 * that both mean the same by "uses".
 */
export function operationCoordinates(document: DocumentNode, schema: GraphQLSchema): Set<string> {
  const used = new Set<string>();
  const useInput = (type: GraphQLInputType) => {
    const named = getNamedType(type);
    if (used.has(named.name)) return;
    used.add(named.name);
    if (isEnumType(named)) for (const value of named.getValues()) used.add(`${named.name}.${value.name}`);
    if (isInputObjectType(named)) {
      for (const field of Object.values(named.getFields())) {
        used.add(`${named.name}.${field.name}`);
        useInput(field.type);
      }
    }
  };
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        const parent = typeInfo.getParentType();
        const field = typeInfo.getFieldDef();
        if (!parent || !field || field.name.startsWith('__')) return;
        used.add(parent.name).add(`${parent.name}.${field.name}`).add(getNamedType(field.type).name);
      },
      Argument() {
        const parent = typeInfo.getParentType();
        const field = typeInfo.getFieldDef();
        const argument = typeInfo.getArgument();
        // A directive's argument (`@include(if:)`) is no field's.
        if (!parent || !field || !argument || typeInfo.getDirective()) return;
        used.add(`${parent.name}.${field.name}.${argument.name}`);
        useInput(argument.type);
      },
      VariableDefinition(node) {
        const type = typeFromAST(schema, node.type);
        if (type) useInput(type as GraphQLInputType);
      },
      InlineFragment(node) {
        if (node.typeCondition) used.add(node.typeCondition.name.value);
      },
      FragmentDefinition(node) {
        used.add(node.typeCondition.name.value);
      },
    }),
  );
  return used;
}
