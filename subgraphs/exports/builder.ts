import SchemaBuilder from '@pothos/core';
import { DateTimeScalar, JSONScalar, subgraphBuilderOptions, type SubgraphSchemaTypes } from '@mindweave/subgraph-kit';
import { prisma } from './db.ts';
import { env } from './env.ts';
import type PrismaTypes from './generated/pothos-types.ts';
import { getDatamodel } from './generated/pothos-types.ts';

export const builder = new SchemaBuilder<SubgraphSchemaTypes<PrismaTypes>>(
  subgraphBuilderOptions({ client: prisma, dmmf: getDatamodel(), production: env.NODE_ENV === 'production' }),
);

builder.addScalarType('DateTime', DateTimeScalar);
builder.addScalarType('JSON', JSONScalar);
builder.queryType({});
builder.mutationType({});
