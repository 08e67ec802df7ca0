import { createHash } from 'node:crypto';
import { readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Supergraph } from '@apollo/federation-internals';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { printSchema } from 'graphql';

const here = dirname(fileURLToPath(import.meta.url));
export const outputDir = join(here, 'src/gql/');
export const manifestFile = join(here, 'persisted-documents.json');
/** Where the client preset writes the manifest; the build moves it to `manifestFile`, the file the router loads. */
export const presetManifestFile = join(outputDir, 'persisted-documents.json');

/**
 * The API schema clients see: the supergraph without its join__/link machinery. The supergraph
 * links SECURITY features (@authenticated, @requiresScopes) that federation-internals does not
 * enforce; the router does, so they are not checked here.
 */
export function apiSchemaSdl(supergraphSdl: string): string {
  return printSchema(Supergraph.build(supergraphSdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema());
}

// The router expects plain sha256 hex; the preset's 'sha256' would prefix it with `sha256:`.
const sha256 = (document: string) => createHash('sha256').update(document).digest('hex');

const config: CodegenConfig = {
  schema: apiSchemaSdl(readFileSync(join(here, '../../schema/supergraph.graphql'), 'utf8')),
  documents: join(here, 'operations/*.graphql'),
  generates: {
    [outputDir]: {
      preset: 'client',
      presetConfig: {
        persistedDocuments: { mode: 'embedHashInDocument', hashAlgorithm: sha256 },
        fragmentMasking: false,
      },
      config: {
        useTypeImports: true,
        importExtension: '.js',
        enumType: 'string-literal',
        strictScalars: true,
        scalars: { DateTime: 'string', JSON: 'unknown' },
      },
    },
  },
  hooks: {
    afterAllFileWrite: () => renameSync(presetManifestFile, manifestFile),
  },
};

export default config;
