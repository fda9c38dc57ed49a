import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: infra/ sits directly below it. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where `npm run tools` (scripts/install-tools.mjs) puts binaries. */
export const TOOLS_BIN_DIR = path.join(PROJECT_ROOT, '.tools', 'bin');

/**
 * Path of the Temporal CLI: `TEMPORAL_CLI`, else `.tools/bin/temporal`, else `temporal` on PATH.
 * Throws naming `npm run tools` when none is found.
 */
export function temporalCliPath(): string {
  return resolveTool({ name: 'temporal', envVar: 'TEMPORAL_CLI', install: 'npm run tools' });
}

/**
 * Path of SeaweedFS `weed`: `WEED_BIN`, else `.tools/bin/weed`, else `weed` on PATH.
 * Throws naming `npm run tools -- --with-s3` when none is found.
 */
export function weedPath(): string {
  return resolveTool({ name: 'weed', envVar: 'WEED_BIN', install: 'npm run tools -- --with-s3' });
}

/** Where scripts/install-data.mjs puts the sample data (`skimage/` photos, `sklearn/digits.csv.gz`). */
export const SAMPLE_DATA_DIR = path.join(PROJECT_ROOT, '.tools', 'data');

/** Path of an installed sample-data file, e.g. `sampleDataPath('skimage', 'astronaut.png')`; throws naming the installer when missing. */
export function sampleDataPath(...parts: string[]): string {
  const file = path.join(SAMPLE_DATA_DIR, ...parts);
  try {
    statSync(file);
  } catch {
    throw new Error(`${file} is missing; run \`node scripts/install-data.mjs\` to install the sample data`);
  }
  return file;
}

interface ToolLookup {
  name: string;
  envVar: string;
  install: string;
}

function resolveTool({ name, envVar, install }: ToolLookup): string {
  const override = process.env[envVar];
  if (override !== undefined && override !== '') {
    // An explicit override that is wrong is a mistake to report, not a hint to fall back on.
    if (!isExecutable(override)) {
      throw new Error(`${envVar}=${override} is not an executable file; point it at the ${name} binary or unset it and run \`${install}\``);
    }
    return override;
  }
  const local = path.join(TOOLS_BIN_DIR, name);
  if (isExecutable(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  throw new Error(`${name} not found (looked at ${envVar}, ${local} and PATH); run \`${install}\` to install it`);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
