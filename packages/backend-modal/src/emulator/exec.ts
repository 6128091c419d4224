/**
 * One exec inside a sandbox, as the task command router sees it: two output logs read by offset, a stdin written
 * by offset, and an exit status that is either a code or a signal (the SDK turns a signal into 128 + signal).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { OutputBuffer } from './output-buffer.js';
import { latch, type Latch } from './util.js';

export type ExitStatus = { code: number } | { signal: number };

/** Thrown by stdin writes that can no longer be delivered; the router answers FAILED_PRECONDITION, as Modal does. */
export class StdinClosedError extends Error {
  override readonly name = 'StdinClosedError';
}

export abstract class ExecProcess {
  readonly stdout = new OutputBuffer();
  readonly stderr = new OutputBuffer();
  private stdinOffset = 0;
  private stdinEnded = false;
  private exitStatus: ExitStatus | undefined;
  private readonly done: Latch<ExitStatus> = latch();

  constructor(readonly execId: string) {}

  get exited(): Promise<ExitStatus> {
    return this.done.promise;
  }

  get status(): ExitStatus | undefined {
    return this.exitStatus;
  }

  get stdinBytesWritten(): number {
    return this.stdinOffset;
  }

  get stdinClosed(): boolean {
    return this.stdinEnded || this.exitStatus !== undefined;
  }

  /**
   * Writes stdin bytes that start at `offset` of the stream. Bytes already written (a retried request) are skipped,
   * so a resent chunk is not delivered twice; a gap is refused.
   */
  writeStdin(offset: number, data: Uint8Array, eof: boolean): void {
    // A bare EOF after the process already exited (it read what it needed and quit) has nothing to deliver;
    // refusing it would make `stdin.close()` fail at random. Data that can no longer be delivered is refused.
    if (this.stdinClosed && eof && offset + data.length <= this.stdinOffset) return;
    if (this.stdinClosed) throw new StdinClosedError(`stdin of exec ${this.execId} is closed`);
    if (offset > this.stdinOffset) {
      throw new StdinClosedError(`stdin offset ${offset} is past the ${this.stdinOffset} bytes written so far`);
    }
    const fresh = data.subarray(Math.min(data.length, this.stdinOffset - offset));
    if (fresh.length > 0) {
      this.stdinOffset += fresh.length;
      this.deliverStdin(Buffer.from(fresh.buffer, fresh.byteOffset, fresh.length));
    }
    if (eof) {
      this.stdinEnded = true;
      this.endStdin();
    }
  }

  /** Ends the exec with SIGKILL (exec timeout, sandbox termination). */
  abstract kill(): void;
  protected abstract deliverStdin(data: Buffer): void;
  protected abstract endStdin(): void;

  protected settle(status: ExitStatus): void {
    if (this.exitStatus) return;
    this.exitStatus = status;
    this.stdout.close();
    this.stderr.close();
    this.done.resolve(status);
  }
}

/** How long output may keep arriving after the process exited (a background child can hold the pipe open). */
const OUTPUT_GRACE_MS = 250;

/**
 * A real process in the sandbox's namespaces, started with `nsenter` so it shares the sandbox's mounts and PID
 * namespace (a second exec can `pkill` the first, as on Modal), inheriting its environment from `env` and changing
 * into `workdir` inside the sandbox (nsenter's own `--wd` would resolve it on the host).
 */
export class ProcessExec extends ExecProcess {
  private readonly child: ChildProcess;
  private timer: NodeJS.Timeout | undefined;
  private reaped = false;
  /** Set by kill(): the exec ended because it was killed, whatever its own exit said (see the exit handler). */
  private killed = false;

  constructor(
    execId: string,
    options: {
      nsenterPath: string;
      targetPid: number;
      namespaces: readonly string[];
      argv: readonly string[];
      workdir: string;
      env: Record<string, string>;
      pipeStdout: boolean;
      pipeStderr: boolean;
      timeoutSecs?: number;
    },
  ) {
    super(execId);
    const args = [
      '--target',
      String(options.targetPid),
      ...options.namespaces,
      '--root',
      // Without --wd the process would keep the host cwd, outside its new root.
      '--wd',
      '--',
      '/bin/sh',
      '-c',
      'cd -- "$0" && exec "$@"',
      options.workdir,
      ...options.argv,
    ];
    // detached: its own process group, so a kill reaches nsenter and everything it started.
    this.child = spawn(options.nsenterPath, args, {
      env: options.env,
      stdio: ['pipe', options.pipeStdout ? 'pipe' : 'ignore', options.pipeStderr ? 'pipe' : 'ignore'],
      detached: true,
    });
    this.child.stdout?.on('data', (chunk: Buffer) => this.stdout.push(chunk));
    this.child.stderr?.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    // A process that exits without reading its stdin makes our writes fail with EPIPE, and a kill while a pipe holds
    // unread bytes resets it (ECONNRESET on the next read): the exit status reports both, so they are not emulator
    // errors (unhandled, they would crash the emulator's process).
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) stream?.on('error', () => undefined);
    this.child.on('error', (error) => {
      this.stderr.push(Buffer.from(`modal emulator: cannot start exec: ${error.message}\n`));
      this.finish({ code: 126 });
    });
    const closed = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.child.once('exit', (code, signal) => {
      this.reaped = true;
      // A kill can race the process's own end: nsenter that could not enter a namespace whose PID 1 was just killed
      // exits 1 before our SIGKILL lands. The exec was still ended by the kill (Modal reports 137 then), so say so.
      const status: ExitStatus = this.killed ? { signal: 9 } : signal !== null ? { signal: osConstants.signals[signal] ?? 9 } : { code: code ?? 0 };
      void Promise.race([closed, new Promise((r) => setTimeout(r, OUTPUT_GRACE_MS))]).then(() => {
        this.child.stdout?.destroy();
        this.child.stderr?.destroy();
        this.finish(status);
      });
    });
    if (options.timeoutSecs && options.timeoutSecs > 0) {
      this.timer = setTimeout(() => this.kill(), options.timeoutSecs * 1000);
      this.timer.unref();
    }
  }

  kill(): void {
    // After exit the process group may be gone and its id reused: never signal it then.
    if (this.reaped || this.child.pid === undefined) return;
    this.killed = true;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  protected deliverStdin(data: Buffer): void {
    this.child.stdin?.write(data);
  }

  protected endStdin(): void {
    this.child.stdin?.end();
  }

  private finish(status: ExitStatus): void {
    if (this.timer) clearTimeout(this.timer);
    this.settle(status);
  }
}
