import { getNamedType, isAbstractType, TypeInfo, visit, visitWithTypeInfo, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Identity } from '@mindweave/service-kit';

/**
 * Who else may share a subscriber's resolution, since it runs as one of them. An organization's
 * API keys see the same things when they hold the same scopes. Users see what their memberships
 * (organizations and roles) let them see: the subgraphs decide by nothing else outside `User`,
 * whose fields may be about the caller, so a selection that reaches `User` stays the user's own.
 */
export function audienceOf(identity: Identity, memberships: string, reachesUser: boolean) {
  if (identity.kind === 'apiKey') return `key:${[...identity.scopes].sort().join(',')}`;
  if (identity.kind !== 'user') return identity.kind;
  return reachesUser ? `user:${identity.userId}` : `members:${memberships}`;
}

/** Whether any field of the document may be of type `name` (through lists, non-nulls, fragments, interfaces and unions). */
export function selects(schema: GraphQLSchema, document: DocumentNode, name: string): boolean {
  const typeInfo = new TypeInfo(schema);
  let found = false;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        const type = getNamedType(typeInfo.getType());
        if (
          type?.name === name ||
          (type && isAbstractType(type) && schema.getPossibleTypes(type).some((possible) => possible.name === name))
        )
          found = true;
      },
    }),
  );
  return found;
}
