/**
 * The torch engine's child process (engines/torch, `python3 -m durable_vision_torch`) and its
 * line-delimited JSON protocol (documented in engines/torch/durable_vision_torch/__main__.py).
 * One request runs at a time; later ones wait their turn. The child's stderr goes to the
 * logger line by line. A child that exits or cannot start fails the request in flight with
 * what it printed; the next request starts a fresh child.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../activities/logger.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TORCH_PACKAGE_DIR = path.join(ROOT, 'engines', 'torch');
export const TORCH_ENV_FILE = path.join(ROOT, '.tools', 'torch', 'env.json');
export const TORCH_INSTALL_HINT = 'install PyTorch with `node scripts/install-torch.mjs` (Debian python3-torch and python3-torchvision, no root, into .tools/torch), '
  + 'or `apt-get install python3-torch python3-torchvision`, or set DV_TORCH_PYTHON to a python3 that can import torch and torchvision';

/** What the child reports once it has imported torch. */
export interface TorchReady {
  torch: string;
  torchvision: string;
  /** 'cpu' or 'cuda' / 'cuda:N'. */
  device: string;
  /** The CUDA card's name, or 'cpu'. */
  deviceName: string;
  cuda: boolean;
  threads: number;
}

export interface TorchProcessOptions {
  /** Python interpreter. Defaults to $DV_TORCH_PYTHON, else .tools/torch/env.json's, else `python3`. */
  python?: string;
  /** Defaults to 'auto': CUDA when torch sees a card. */
  device?: 'auto' | 'cpu' | 'cuda';
  /** torch.set_num_threads at start. Unset = PyTorch's default. */
  threads?: number;
  logger?: Logger;
}

export interface ProtocolError {
  type: string;
  message: string;
  details?: Record<string, number>;
}

/** A line the child sent for a request, other than its final result or error. */
export type ProtocolEvent = { type: 'progress'; epoch: number; batch: number; batches: number } | { type: 'epoch'; report: unknown; model: string; optimizer: string };

/** The child failed a request (or could not run it): `protocol` is its error line. */
/** PyTorch cannot be started on this machine (no Python, no torch/torchvision, or the child died at start). */
export class TorchUnavailableError extends Error {
  override name = 'TorchUnavailableError';
}

export class TorchProtocolError extends Error {
  constructor(readonly protocol: ProtocolError) {
    super(protocol.message);
    this.name = protocol.type;
  }
}

interface Pending {
  id: number;
  resolve: (value: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  onEvent?: (event: ProtocolEvent) => void | Promise<void>;
}

function torchEnv(): { python: string; env: Record<string, string> } {
  const env: Record<string, string> = {};
  let python = 'python3';
  if (existsSync(TORCH_ENV_FILE)) {
    const saved = JSON.parse(readFileSync(TORCH_ENV_FILE, 'utf8')) as Record<string, string>;
    if (saved.PYTHON) python = saved.PYTHON;
    if (saved.PYTHONPATH) env.PYTHONPATH = saved.PYTHONPATH;
    if (saved.LD_LIBRARY_PATH) env.LD_LIBRARY_PATH = [saved.LD_LIBRARY_PATH, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  }
  return { python, env };
}

export class TorchProcess {
  private child: ChildProcess | undefined;
  private ready: Promise<TorchReady> | undefined;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private stderrTail: string[] = [];
  private readonly logger: Logger | undefined;

  constructor(private readonly options: TorchProcessOptions = {}) {
    this.logger = options.logger;
  }

  /** Starts the child if it is not running and resolves once torch is imported. */
  start(): Promise<TorchReady> {
    this.ready ??= this.spawnChild();
    return this.ready;
  }

  private spawnChild(): Promise<TorchReady> {
    const { python: fromEnvFile, env } = torchEnv();
    const python = this.options.python ?? process.env.DV_TORCH_PYTHON ?? fromEnvFile;
    const args = ['-m', 'durable_vision_torch', '--device', this.options.device ?? 'auto'];
    if (this.options.threads !== undefined) args.push('--threads', String(this.options.threads));
    const child = spawn(python, args, {
      env: {
        ...process.env,
        ...env,
        PYTHONPATH: [TORCH_PACKAGE_DIR, env.PYTHONPATH, process.env.PYTHONPATH].filter(Boolean).join(':'),
        PYTHONDONTWRITEBYTECODE: '1',
        PYTHONUNBUFFERED: '1',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.stderrTail = [];
    this.hold(true);
    return new Promise<TorchReady>((resolve, reject) => {
      let started = false;
      createInterface({ input: child.stderr! }).on('line', (line) => {
        this.stderrTail = [...this.stderrTail.slice(-19), line];
        this.logger?.warn(`torch: ${line}`);
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(line) as Record<string, unknown>;
        } catch {
          this.logger?.warn(`torch (not protocol): ${line}`);
          return;
        }
        if (!started) {
          started = true;
          this.hold(false);
          if (message.type === 'ready') resolve(message as unknown as TorchReady);
          else reject(this.startError(python, (message.error as ProtocolError | undefined)?.message ?? line));
          return;
        }
        this.dispatch(message);
      });
      child.on('error', (error: NodeJS.ErrnoException) => {
        const why = error.code === 'ENOENT' ? `Python 3 was not found (tried ${JSON.stringify(python)})` : String(error);
        if (this.child === child) {
          this.child = undefined;
          this.ready = undefined;
        }
        if (!started) {
          started = true;
          reject(this.startError(python, why));
        }
      });
      child.on('exit', (code, signal) => {
        if (this.child === child) {
          this.child = undefined;
          this.ready = undefined;
        }
        const tail = this.stderrTail.join('\n');
        if (!started) {
          started = true;
          reject(this.startError(python, `the child exited (${code ?? signal}) before it was ready${tail ? `:\n${tail}` : ''}`));
        }
        const pending = this.pending;
        if (pending !== undefined) {
          this.pending = undefined;
          pending.reject(new Error(`the torch engine's Python process exited (${code ?? signal}) during a request${tail ? `; its last output:\n${tail}` : ''}`));
        }
      });
    });
  }

  private startError(python: string, why: string): Error {
    return new TorchUnavailableError(`the torch engine could not start ${python} -m durable_vision_torch: ${why}. To use the torch engine, ${TORCH_INSTALL_HINT}`);
  }

  private dispatch(message: Record<string, unknown>): void {
    const pending = this.pending;
    if (pending === undefined || message.id !== pending.id) {
      if (message.type === 'error') this.logger?.warn('torch engine error outside a request', { error: message.error });
      return;
    }
    if (message.type === 'result') {
      this.pending = undefined;
      pending.resolve(message);
    } else if (message.type === 'error') {
      this.pending = undefined;
      pending.reject(new TorchProtocolError(message.error as ProtocolError));
    } else if (pending.onEvent !== undefined) {
      Promise.resolve(pending.onEvent(message as unknown as ProtocolEvent)).catch((error: unknown) => {
        // A failing callback (e.g. a checkpoint that could not be stored) ends the request.
        if (this.pending === pending) {
          this.pending = undefined;
          this.send({ id: pending.id, op: 'cancel' });
          pending.reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    }
  }

  /**
   * An idle child must not keep the Node process alive (a CLI run that finished exits, and the
   * child then sees end of input and exits too); one serving a request must.
   */
  private hold(busy: boolean): void {
    const child = this.child;
    if (child === undefined) return;
    for (const handle of [child, child.stdin, child.stdout, child.stderr] as ({ ref?: () => void; unref?: () => void } | null)[]) {
      if (busy) handle?.ref?.();
      else handle?.unref?.();
    }
  }

  /** Writes one protocol line to the child (ignored when it is not running). */
  send(message: Record<string, unknown>): void {
    if (this.child?.stdin?.writable === true) this.child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  /**
   * Runs one request after the ones before it. `onEvent` sees its progress/epoch lines; `id`
   * hands the request id to the caller (for ack and cancel) before the request is sent.
   */
  request(op: string, body: Record<string, unknown>, onEvent?: Pending['onEvent'], onId?: (id: number) => void): Promise<Record<string, unknown>> {
    const run = async () => {
      await this.start();
      const id = this.nextId++;
      onId?.(id);
      this.hold(true);
      try {
        return await new Promise<Record<string, unknown>>((resolve, reject) => {
          this.pending = { id, resolve, reject, onEvent };
          this.send({ ...body, id, op });
        });
      } finally {
        this.hold(false);
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Ends the child: a shutdown line, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.send({ op: 'shutdown' });
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Kills the child at once (a request that does not answer a cancel). */
  kill(): void {
    this.child?.kill('SIGKILL');
  }
}
