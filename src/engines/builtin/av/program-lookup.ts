// Finds the external programs the audio and video operations run: a program on the PATH (the
// operator's system package) first, then one shipped inside an npm package.

import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

/** The first executable `name` on the PATH, or undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** `file` inside the installed npm package `pkg`, when the package is installed and the file executable. */
export function inPackage(pkg: string, file: string): string | undefined {
  try {
    const candidate = join(dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`)), file);
    return isExecutable(candidate) ? candidate : undefined;
  } catch {
    return undefined;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
