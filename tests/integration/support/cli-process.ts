import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const CLI = fileURLToPath(new URL('../../../bin/durable-vision.mjs', import.meta.url));

export interface CliProcess {
  child: ChildProcess;
  /** stdout and stderr interleaved. */
  output: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
}

/** Starts the real CLI as a separate process, as a user (or a second machine) would. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    text += d.toString();
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => text, stdout: () => out, exited };
}

/** Polls `check` until it returns a value, or fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Runs the CLI to completion in `dir` with its own data folder and no TEMPORAL_ADDRESS, so it
 * starts its embedded Temporal server as a new user's would.
 */
export async function runCliIn(dir: string, args: string[]): Promise<{ code: number | null; output: string; stdout: string }> {
  const p = startCli(args, { DV_DATA_DIR: join(dir, '.data'), TEMPORAL_ADDRESS: '' }, dir);
  const code = await p.exited;
  return { code, output: p.output(), stdout: p.stdout() };
}
