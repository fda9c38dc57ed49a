import { spawn, type ChildProcess } from 'node:child_process';

/** Receives every output line of a server process, prefixed with its name. */
export type ServerLog = (line: string) => void;

export interface ManagedProcessOptions {
  /** Short name used in log lines and errors, e.g. `temporal`. */
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Defaults to dropping output (the tail is still kept for errors). */
  log?: ServerLog;
  /** Lines of output kept for error messages. Defaults to 40. */
  tailLines?: number;
  /**
   * A line this process prints once it is up. Probing a port alone is not enough: when the port
   * is already taken, the probe reaches the other server while this one exits.
   */
  readyLine?: RegExp;
}

export interface ManagedProcess {
  readonly child: ChildProcess;
  /** The last lines the process wrote (stdout and stderr interleaved). */
  outputTail(): string;
  /** True once the process has printed a line matching `readyLine`. */
  readonly readyLineSeen: boolean;
  /** Set once the process has exited: its exit code, or the signal that ended it. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs` (defaults to 10 s); resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export function startManagedProcess(options: ManagedProcessOptions): ManagedProcess {
  const { name, command, args, log } = options;
  const tailLines = options.tailLines ?? 40;
  const tail: string[] = [];
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exit: ManagedProcess['exit'];
  let readyLineSeen = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    });
    // A failed spawn (ENOENT, EACCES) emits 'error' and never 'exit'.
    child.once('error', (error) => {
      tail.push(`spawn ${command} failed: ${error.message}`);
      exit ??= { code: null, signal: null };
      resolve();
    });
  });

  const record = (chunk: Buffer, partial: { text: string }): void => {
    const lines = (partial.text + chunk.toString('utf8')).split('\n');
    partial.text = lines.pop() ?? '';
    for (const line of lines) {
      tail.push(line);
      if (tail.length > tailLines) tail.shift();
      if (options.readyLine?.test(line) === true) readyLineSeen = true;
      log?.(`[${name}] ${line}`);
    }
  };
  const outPartial = { text: '' };
  const errPartial = { text: '' };
  child.stdout?.on('data', (chunk: Buffer) => record(chunk, outPartial));
  child.stderr?.on('data', (chunk: Buffer) => record(chunk, errPartial));

  return {
    child,
    outputTail: () => [...tail, outPartial.text, errPartial.text].filter((line) => line !== '').join('\n'),
    get readyLineSeen() {
      return readyLineSeen;
    },
    get exit() {
      return exit;
    },
    exited,
    async stop(graceMs = 10_000): Promise<void> {
      if (exit !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Polls `probe` until it returns true. Fails early when the process exits, and on timeout,
 * with the process's output tail so the reader sees why the server did not come up.
 */
export async function waitUntilReady(
  proc: ManagedProcess,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (proc.exit !== undefined) {
      const how = proc.exit.signal ?? `code ${String(proc.exit.code)}`;
      throw new Error(`${what}: process exited (${how}) before it was ready. Output tail:\n${proc.outputTail()}`);
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      const last = lastError === '' ? '' : `\nLast probe error: ${lastError}`;
      throw new Error(`${what}: not ready after ${timeoutMs} ms.${last}\nOutput tail:\n${proc.outputTail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
