/**
 * Starting child processes without stalling the server: every git command and agent run of this backend is started
 * by a small helper process (process-host/host.mjs, which says why), and this side only exchanges messages with it.
 * The host starts on first use and again after it dies; a host that dies takes its processes with it, and what was
 * waiting on them fails UNAVAILABLE.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createError } from '@dreamcore/runtime-core';

/** From src/ and from dist/ alike: the host ships beside them in the package. */
const HOST = fileURLToPath(new URL('../process-host/host.mjs', import.meta.url));

export interface LaunchOptions {
  cwd: string;
  /** The whole environment of the child (nothing is inherited). */
  env: Record<string, string>;
  /** Own process group, so the caller can signal the child and everything it starts as one. */
  detached?: boolean;
  /** A pipe on the child's fd 3 (bubblewrap's --info-fd), readable as `extra`. */
  extraFd?: boolean;
  maxBuffer?: number;
}

export interface ProcessExit {
  exitCode: number | null;
  signal: string | null;
  /** Set when the process could not be started (or was lost with the host): why. */
  message: string | null;
}

export interface RunResult extends ProcessExit {
  /** Plain Uint8Arrays (not Buffers, whose slice() shares memory). */
  stdout: Uint8Array;
  stderr: Uint8Array;
}

export interface LaunchedProcess {
  readonly pid: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly extra: Readable | null;
  /** Resolves when the process has exited and its output has all been read. */
  readonly exit: Promise<ProcessExit>;
}

function plainBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

type HostMessage =
  | ({ id: number; op: 'result' } & RunResult)
  | { id: number; op: 'spawned'; pid: number }
  | { id: number; op: 'stream'; fd: 1 | 2 | 3 }
  | ({ id: number; op: 'exit' } & ProcessExit);

interface Request {
  onMessage(message: HostMessage, handle?: unknown): void;
  onHostLost(error: Error): void;
}

export interface LauncherOptions {
  /**
   * Nice value of every process started (default 19): under load, agents and git yield the CPU to the server, which
   * carries every user's stream. Each agent leads a session, and with Linux's autogroup scheduling every session
   * weighs on its own: at nice 10 (weight 110 against the server's 1024) ten busy agents already outweigh the server,
   * and the bench's 50 jobs had a p99 of 66 ms; at 19 (weight 15) fifty do not. 0 runs them at the server's priority.
   */
  niceness?: number;
}

export class ProcessLauncher {
  private host: ChildProcess | null = null;
  private readonly niceness: number;
  private readonly requests = new Map<number, Request>();
  private nextId = 1;

  constructor(options: LauncherOptions = {}) {
    this.niceness = options.niceness ?? 19;
  }

  private ensureHost(): ChildProcess {
    if (this.host?.connected) return this.host;
    const host = fork(HOST, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    // Everything the host starts inherits its priority at fork, with no window in which a child runs at ours.
    if (this.niceness && host.pid) {
      try {
        setPriority(host.pid, this.niceness);
      } catch {
        /* not permitted: the children run at the server's priority */
      }
    }
    host.on('message', (message: HostMessage, handle?: unknown) => {
      const request = this.requests.get(message.id);
      if (request) request.onMessage(message, handle);
      else (handle as Readable | undefined)?.destroy();
    });
    const lost = (why: string) => {
      if (this.host !== host) return;
      this.host = null;
      const error = createError('UNAVAILABLE', `the local process host stopped (${why})`);
      const pending = [...this.requests.values()];
      this.requests.clear();
      for (const request of pending) request.onHostLost(error);
    };
    host.on('exit', (code, signal) => lost(signal ? `signal ${signal}` : `exit code ${code}`));
    host.on('error', (error) => lost(error.message));
    this.host = host;
    this.idle();
    return host;
  }

  /** The host keeps the server alive only while something is running on it. */
  private idle(): void {
    const host = this.host;
    if (!host) return;
    const channel = (host as ChildProcess & { channel?: { ref(): void; unref(): void } }).channel;
    if (this.requests.size === 0) {
      host.unref();
      channel?.unref();
    } else {
      host.ref();
      channel?.ref();
    }
  }

  private send(message: Record<string, unknown>, request: Request): number {
    const host = this.ensureHost();
    const id = this.nextId++;
    this.requests.set(id, request);
    this.idle();
    host.send({ ...message, options: { ...(message.options as LaunchOptions), niceness: this.niceness }, id });
    return id;
  }

  private done(id: number): void {
    this.requests.delete(id);
    this.idle();
  }

  /** Runs a command to completion and returns its exit and output. */
  run(file: string, args: string[], options: LaunchOptions): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const id = this.send(
        { op: 'run', file, args, options },
        {
          onMessage: (message) => {
            if (message.op !== 'result') return;
            this.done(id);
            resolve({ ...message, stdout: plainBytes(message.stdout), stderr: plainBytes(message.stderr) });
          },
          onHostLost: reject,
        },
      );
    });
  }

  /**
   * Starts a long-running process. Its stdout, stderr (and fd 3) are the child's own pipes, passed over from the
   * host, so output reaches this process with no hop in between. Rejects if the process cannot start.
   */
  spawn(file: string, args: string[], options: LaunchOptions): Promise<LaunchedProcess> {
    const pipes = new Map<number, Readable>();
    let settleExit!: (exit: ProcessExit) => void;
    const exited = new Promise<ProcessExit>((resolve) => (settleExit = resolve));
    return new Promise((resolve, reject) => {
      let started = false;
      const id = this.send(
        { op: 'spawn', file, args, options },
        {
          onMessage: (message, handle) => {
            if (message.op === 'stream' && handle) {
              pipes.set(message.fd, handle as Readable);
            } else if (message.op === 'spawned') {
              started = true;
              const stdout = pipes.get(1)!;
              const stderr = pipes.get(2)!;
              const extra = pipes.get(3) ?? null;
              // Exited, and every byte it wrote read: the pipes end when the last writer (it, or its children) closes them.
              const drained = [stdout, stderr, extra].filter((p): p is Readable => p !== null).map((p) => finished(p).catch(() => undefined));
              const exit = Promise.all([exited, ...drained]).then(([result]) => result);
              resolve({ pid: message.pid, stdout, stderr, extra, exit });
            } else if (message.op === 'exit') {
              this.done(id);
              settleExit({ exitCode: message.exitCode, signal: message.signal, message: message.message });
              if (!started) reject(createError('UNAVAILABLE', message.message ?? `${file} could not be started`, { details: { file } }));
            }
          },
          onHostLost: (error) => {
            // The pipes are ours now: the output still arrives; only the exit status is lost with the host.
            settleExit({ exitCode: null, signal: null, message: error.message });
            if (!started) {
              for (const pipe of pipes.values()) pipe.destroy();
              reject(error);
            }
          },
        },
      );
    });
  }

  /**
   * Gives a process started further down (bubblewrap's sandbox, which leads a session of its own) the same lower
   * priority as the processes started here. Best effort.
   */
  lowerPriority(pid: number): void {
    if (this.niceness && this.host?.connected) this.host.send({ op: 'lowerPriority', pid, niceness: this.niceness });
  }

  /** Stops the host; with it, whatever it still runs (those waiting on it get UNAVAILABLE). */
  async close(): Promise<void> {
    const host = this.host;
    if (!host || host.exitCode !== null || host.signalCode !== null) return;
    const exited = new Promise((resolve) => host.once('exit', resolve));
    host.ref(); // an idle host is unref'd: without this, waiting for its exit could let the process end first
    if (host.connected) host.disconnect();
    await exited;
  }
}
