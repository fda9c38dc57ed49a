/**
 * Starts a worker thread on a module that sits beside the caller, from source or built.
 * Run from source (tsx or vitest), the caller's module is a .ts file and the worker needs the
 * TypeScript loader too, so it is started from a small script that registers tsx first.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** URL of the tsx ESM API, from tsx's own exports map so its internal layout may change. */
function tsxApiUrl(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports?: Record<string, { import?: { default?: string } } | string> };
  const entry = pkg.exports?.['./esm/api'];
  const file = typeof entry === 'object' ? entry.import?.default : undefined;
  if (!file) throw new Error(`${pkgPath}: exports["./esm/api"].import.default not found; cannot start TypeScript workers`);
  return pathToFileURL(join(dirname(pkgPath), file)).href;
}

/**
 * A worker running `name` (without extension), resolved beside `callerUrl` (the caller's
 * import.meta.url): `name`.ts when the caller runs from source, `name`.js when built.
 */
export function startModuleWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  if (callerUrl.endsWith('.ts')) {
    const target = new URL(`./${name}.ts`, callerUrl).href;
    const code = `import(${JSON.stringify(tsxApiUrl())}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
    return new Worker(code, { eval: true, workerData });
  }
  return new Worker(new URL(`./${name}.js`, callerUrl), { workerData });
}
