import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// A module runs from its source (`router/env.ts`) in development and from the build
// (`router/dist/env.js`) in production: paths to files beside the code are found from the package
// root, and paths to sibling modules take the running module's own extension.

/** The folder of the package.json nearest above the module: the same from source and from dist/. */
export function packageRoot(moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(moduleUrl)}`);
    dir = parent;
  }
  return dir;
}

/** The path of the module `name` next to the calling one (`./reports` is reports.ts from source, reports.js from the build). */
export const siblingModule = (moduleUrl: string, name: string) =>
  fileURLToPath(new URL(`${name}${extname(fileURLToPath(moduleUrl))}`, moduleUrl));
