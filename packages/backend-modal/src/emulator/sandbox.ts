/**
 * A sandbox as a bubblewrap container on this machine.
 *
 * A sandbox sees its image's tree (built from its recipe, images.ts) read-only as /usr, /opt and the /bin, /lib*
 * links or directories, and this machine's /etc, on an empty in-memory root. Writable are a per-sandbox /tmp and home
 * (/root, HOME) kept on the host under the state dir for the sandbox's lifetime, each volume's folder bind-mounted
 * where the sandbox asked, and the rest of the in-memory root. The host's /root, /work, /home... are not mounted,
 * so the sandbox cannot see them. Never `--dev-bind / /`: bwrap then writes through to the real root.
 *
 * One `bwrap` process per sandbox owns the namespaces (mount, PID, IPC, UTS, network; see network.ts for how the
 * network is connected) and runs the entrypoint (`sleep infinity` unless a command was given). Execs join those namespaces
 * with `nsenter`, so all processes of a sandbox see each other, a second exec can `pkill` the first, and killing
 * the namespace's PID 1 ends every one of them: that is `terminate()`.
 *
 * Not a security boundary: processes run as the emulator's user (root here) with its capabilities. It gives tests
 * the file-system view and process model of a Modal sandbox, not Modal's isolation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsConstants, existsSync, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join, posix } from 'node:path';
import { ExecProcess, ProcessExec } from './exec.js';
import { FS_TOOLS_PATH, FsToolExec } from './fs-tools.js';
import { OutputBuffer } from './output-buffer.js';
import { connectSandbox, type NetworkPolicy } from './network.js';
import { CONTROL_DIR, SyncChannel } from './sync-channel.js';
import { latch, type Latch } from './util.js';
import { viewFor, type VolumeView } from './volumes.js';

/** GenericResult.status values (modal.client.GenericResult.GenericStatus). */
export const GenericStatus = {
  SUCCESS: 1,
  FAILURE: 2,
  TERMINATED: 3,
  TIMEOUT: 4,
  INIT_FAILURE: 5,
  IDLE_TIMEOUT: 7,
} as const;

export interface SandboxResult {
  status: number;
  exitcode: number;
  exception: string;
}

export interface SandboxRuntimeConfig {
  bwrapPath: string;
  nsenterPath: string;
  /** Host directory for this sandbox's /tmp and home; removed when the sandbox ends. */
  sandboxDir: string;
  /** Extra host paths bound read-only at the same place (e.g. /opt). */
  extraReadOnlyBinds: readonly string[];
  /** The emulator's `sync` (sync-channel.ts), bound over /usr/bin/sync. */
  syncShim: string;
  /**
   * Also unshare the user namespace, mapping the emulator's user to root inside (what bwrap needs when it is not
   * run as root); execs then join that namespace too.
   */
  userNamespace: boolean;
}

export interface SandboxSpec {
  sandboxId: string;
  taskId: string;
  appId: string;
  environmentName: string;
  name: string | undefined;
  tags: Map<string, string>;
  imageId: string;
  /** The image's tree (its `usr/` is the sandbox's /usr; see images.ts). */
  image: string;
  /** Entrypoint; empty means "stay up until terminated or timed out". */
  command: readonly string[];
  workdir: string;
  env: Record<string, string>;
  timeoutSecs: number;
  idleTimeoutSecs: number | undefined;
  /** The sandbox's private views of the volumes it mounts (see volumes.ts). */
  volumes: readonly VolumeView[];
  /** Blocked, open, or an outbound CIDR allowlist (see network.ts). */
  network: NetworkPolicy;
}

export interface ExecRequest {
  execId: string;
  argv: readonly string[];
  workdir: string | undefined;
  env: Record<string, string>;
  pipeStdout: boolean;
  pipeStderr: boolean;
  timeoutSecs: number | undefined;
}

/** Top-level directories the sandbox makes itself (or takes from this machine); an image's copies are not bound. */
const OWN_TOP_DIRS = new Set([
  'usr',
  'bin',
  'sbin',
  'lib',
  'lib32',
  'lib64',
  'libx32',
  'etc',
  'proc',
  'dev',
  'sys',
  'tmp',
  'root',
  'run',
  'var',
  'home',
  'boot',
  'mnt',
  'media',
  'srv',
]);

/** How long a finished exec's output and status remain available. */
const EXEC_RETENTION_MS = 10 * 60 * 1000;
/** Cap on the entrypoint's retained stdio; Modal also keeps only the most recent part. */
const SANDBOX_STDIO_RETAIN_BYTES = 16 * 1024 * 1024;

export class EmulatedSandbox {
  readonly createdAt: number;
  /** Epoch ms before which no exec starts (the modelled cold start; see ModalEmulatorOptions.coldStartMs). */
  readyAt = 0;
  readonly stdout = new OutputBuffer(SANDBOX_STDIO_RETAIN_BYTES);
  readonly stderr = new OutputBuffer(SANDBOX_STDIO_RETAIN_BYTES);
  readonly execs = new Map<string, ExecProcess>();
  private stdinOffset = 0;
  private stdinEnded = false;
  private bwrap: ChildProcess | undefined;
  private initPid = 0;
  private rootFd: number | undefined;
  private outcome: SandboxResult | undefined;
  private readonly finished: Latch<SandboxResult> = latch();
  private readonly bwrapExited: Latch<void> = latch();
  private lifetimeTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private activeExecs = 0;
  private readonly namespaces: string[];
  private cleanedUp: Promise<void> | undefined;
  private bwrapGone = false;
  /** Commits made as the sandbox ended (none when it was killed); cleanup waits for them. */
  private finalCommits: Promise<unknown> = Promise.resolve();
  private readonly syncChannel: SyncChannel;

  constructor(
    readonly spec: SandboxSpec,
    private readonly config: SandboxRuntimeConfig,
    createdAt: number,
  ) {
    this.createdAt = createdAt;
    this.syncChannel = new SyncChannel(join(config.sandboxDir, 'control'), (paths) => this.sync(paths));
    this.namespaces = [...(config.userNamespace ? ['--user', '--preserve-credentials'] : []), '--mount', '--pid', '--uts', '--ipc', '--net'];
  }

  get id(): string {
    return this.spec.sandboxId;
  }

  get running(): boolean {
    return this.outcome === undefined && this.initPid > 0;
  }

  get result(): SandboxResult | undefined {
    return this.outcome;
  }

  /** Resolves with the result once the sandbox has finished (for whatever reason). */
  get done(): Promise<SandboxResult> {
    return this.finished.promise;
  }

  /** Starts bwrap and resolves once the namespaces exist and the entrypoint has been started. */
  async start(): Promise<void> {
    const tmpDir = join(this.config.sandboxDir, 'tmp');
    const homeDir = join(this.config.sandboxDir, 'home');
    await mkdir(tmpDir, { recursive: true });
    await mkdir(homeDir, { recursive: true });
    await chmod(tmpDir, 0o1777);
    for (const view of this.spec.volumes) await view.open();

    const command = this.spec.command.length > 0 ? this.spec.command : ['sleep', 'infinity'];
    // bwrap reports the namespace's PID 1 on --info-fd as soon as it has cloned, before the mounts exist; the
    // entrypoint wrapper writes to fd 4 once bwrap has finished setting up, then waits on fd 5 until the sandbox's
    // network is connected before it runs the command.
    const entrypoint = ['/bin/sh', '-c', 'echo ready >&4; exec 4>&-; read go <&5; exec 5<&-; exec "$@"', 'modal-entrypoint', ...command];
    const [file, ...args] = await this.syncChannel.wrapStart([this.config.bwrapPath, ...this.bwrapArgs(tmpDir, homeDir), '--', ...entrypoint]);
    const child = spawn(file!, args, {
      env: this.spec.env,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
      // Its own process group, so terminate() reaches bwrap itself too.
      detached: true,
    });
    this.bwrap = child;
    child.stdout?.on('data', (chunk: Buffer) => this.stdout.push(chunk));
    // Broken or reset pipes (EPIPE, ECONNRESET) mean the sandbox's processes are gone, which its exit reports; unhandled,
    // they would crash the emulator's process.
    for (const stream of child.stdio) (stream as NodeJS.EventEmitter | null)?.on('error', () => undefined);
    let startupStderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      if (startupStderr.length < 4096) startupStderr += chunk.toString('utf8');
      this.stderr.push(chunk);
    });
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => {
        startupStderr += error.message;
        resolve({ code: 127, signal: null });
      });
    });
    const infoText = readUntil(child.stdio[3] as NodeJS.ReadableStream | null, (text) => parseChildPid(text) !== undefined);
    const ready = readUntil(child.stdio[4] as NodeJS.ReadableStream | null, (text) => text.includes('ready'));
    const first = await Promise.race([ready, exit.then(() => '')]);
    const pid = first.includes('ready') ? parseChildPid(await infoText) : undefined;
    if (pid === undefined) {
      child.kill('SIGKILL');
      const status = await Promise.race([exit, delayValue(1000, undefined)]);
      const detail = startupStderr.trim() || `bwrap exited (${JSON.stringify(status ?? {})})`;
      throw new Error(`cannot start sandbox: ${detail}`);
    }
    this.initPid = pid;
    try {
      await this.syncChannel.attach();
    } catch (error) {
      this.finish({ status: GenericStatus.INIT_FAILURE, exitcode: 0, exception: 'sandbox control channel failed' }, { commit: false });
      throw new Error(`cannot start sandbox: its sync channel could not be opened (${(error as Error).message})`, { cause: error });
    }
    // A handle on the sandbox's root that stays valid if the PID is ever reused after the sandbox ends.
    this.rootFd = openSync(`/proc/${pid}/root`, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    // Belt and braces for the fs tool: never let it operate on the host's own root.
    const root = fstatSync(this.rootFd);
    const hostRoot = statSync('/');
    if (root.dev === hostRoot.dev && root.ino === hostRoot.ino) {
      this.finish({ status: GenericStatus.INIT_FAILURE, exitcode: 0, exception: 'sandbox root is the host root' }, { commit: false });
      throw new Error('cannot start sandbox: its root is still the host root');
    }
    try {
      await connectSandbox(pid, this.spec.network);
    } catch (error) {
      this.finish({ status: GenericStatus.INIT_FAILURE, exitcode: 0, exception: 'sandbox network failed' }, { commit: false });
      throw new Error(`cannot start sandbox: its network could not be set up (${(error as Error).message})`, { cause: error });
    }
    (child.stdio as unknown as (NodeJS.WritableStream | null)[])[5]?.end('go\n');

    void exit.then(({ code, signal }) => {
      this.bwrapGone = true;
      this.bwrapExited.resolve();
      this.stdout.close();
      this.stderr.close();
      const exitcode = code ?? 128 + (signal ? signalNumber(signal) : 9);
      this.finish({
        status: exitcode === 0 ? GenericStatus.SUCCESS : GenericStatus.FAILURE,
        exitcode,
        exception: '',
      });
    });

    this.lifetimeTimer = setTimeout(
      () => this.finish({ status: GenericStatus.TIMEOUT, exitcode: 0, exception: 'Sandbox timed out' }),
      Math.max(1, this.spec.timeoutSecs || 300) * 1000,
    );
    this.lifetimeTimer.unref();
    this.touch();
  }

  /** Starts an exec; the fs-tools path is served by the emulator's own implementation. */
  exec(request: ExecRequest): ExecProcess {
    const existing = this.execs.get(request.execId);
    if (existing) return existing; // A retried TaskExecStart.
    let proc: ExecProcess;
    if (request.argv[0] === FS_TOOLS_PATH && this.rootFd !== undefined) {
      proc = new FsToolExec(request.execId, request.argv, `/proc/self/fd/${this.rootFd}`, () => this.running, this.config.userNamespace);
    } else {
      proc = new ProcessExec(request.execId, {
        nsenterPath: this.config.nsenterPath,
        targetPid: this.initPid,
        namespaces: this.namespaces,
        argv: request.argv,
        workdir: request.workdir ?? this.spec.workdir,
        env: { ...this.spec.env, ...request.env },
        pipeStdout: request.pipeStdout,
        pipeStderr: request.pipeStderr,
        timeoutSecs: request.timeoutSecs,
      });
    }
    this.execs.set(request.execId, proc);
    this.activeExecs++;
    this.touch();
    void proc.exited.then(() => {
      this.activeExecs--;
      this.touch();
      // Output stays readable for a while after exit (a client may read after wait()), then it is dropped.
      setTimeout(() => this.execs.delete(request.execId), EXEC_RETENTION_MS).unref();
    });
    return proc;
  }

  /** Writes to the entrypoint's stdin (SandboxStdinWriteV2), with the same offset rules as exec stdin. */
  writeStdin(offset: number, data: Uint8Array, eof: boolean): void {
    this.touch();
    const closed = this.stdinEnded || !this.running;
    // As for execs: a bare EOF after the entrypoint is gone has nothing to deliver and is not an error.
    if (closed && eof && offset + data.length <= this.stdinOffset) return;
    if (closed) throw new Error('sandbox stdin is closed');
    if (offset > this.stdinOffset) throw new Error(`stdin offset ${offset} is past ${this.stdinOffset}`);
    const fresh = data.subarray(Math.min(data.length, this.stdinOffset - offset));
    if (fresh.length > 0) {
      this.stdinOffset += fresh.length;
      this.bwrap?.stdin?.write(Buffer.from(fresh));
    }
    if (eof) {
      this.stdinEnded = true;
      this.bwrap?.stdin?.end();
    }
  }

  /**
   * Records client activity. With an idle timeout, the sandbox ends once no exec has been running and nothing has
   * touched it for that long (Modal: no running execs, no stdin, no stdio reads).
   */
  touch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const idle = this.spec.idleTimeoutSecs;
    if (!idle || this.outcome || this.activeExecs > 0) return;
    this.idleTimer = setTimeout(() => this.finish({ status: GenericStatus.IDLE_TIMEOUT, exitcode: 0, exception: 'Sandbox idle timeout' }), idle * 1000);
    this.idleTimer.unref();
  }

  terminate(): void {
    this.finish({ status: GenericStatus.TERMINATED, exitcode: 0, exception: 'Sandbox terminated' });
  }

  /**
   * Ends the sandbox as a lost worker would (host failure, preemption, OOM): every process dies and nothing is
   * committed, so writes not yet synced to a v2 volume, and everything written to a v1 volume, are lost.
   */
  kill(): void {
    this.finish({ status: GenericStatus.FAILURE, exitcode: 137, exception: 'Sandbox worker was lost' }, { commit: false });
  }

  /**
   * Ends the sandbox (idempotent): kills every process in it, settles execs, commits its volumes unless it was
   * killed, and removes its /tmp, home and views.
   */
  finish(result: SandboxResult, { commit = true }: { commit?: boolean } = {}): void {
    if (this.outcome) return;
    this.outcome = result;
    if (this.lifetimeTimer) clearTimeout(this.lifetimeTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    // Execs first: one whose nsenter has not entered the namespace yet would otherwise fail on its own (exit 1)
    // once PID 1 is gone, instead of ending as killed.
    for (const exec of this.execs.values()) exec.kill();
    // PID 1 of the namespace dying takes every process of the sandbox with it. Once bwrap has exited those PIDs
    // are dead and may be reused by unrelated processes, so they are not signalled any more.
    if (!this.bwrapGone) {
      if (this.initPid > 0) killQuietly(this.initPid);
      if (this.bwrap?.pid !== undefined) killQuietly(-this.bwrap.pid);
    }
    if (this.rootFd !== undefined) {
      closeSync(this.rootFd);
      this.rootFd = undefined;
    }
    this.syncChannel.close();
    // Queued on each volume's lock now, so a sandbox created after this one ended loads what it committed.
    if (commit && this.initPid > 0) this.finalCommits = Promise.allSettled(this.spec.volumes.map((view) => view.commit()));
    this.finished.resolve(result);
    this.cleanedUp = this.cleanup();
  }

  /** `sync` in the sandbox: commits the v2 volumes holding `paths` (all of them when none are given). */
  private async sync(paths: string[]): Promise<void> {
    if (this.outcome) throw new Error('the sandbox is shutting down');
    const views = paths.length === 0 ? this.spec.volumes : paths.map((path) => viewFor(this.spec.volumes, path)).filter((v) => v !== undefined);
    // v1 volumes commit only when the sandbox ends: `sync` does nothing for them, as on Modal.
    const v2 = [...new Set(views)].filter((view) => view.volume.version === 2);
    await Promise.all(v2.map((view) => view.commit()));
  }

  /** reloadVolumes(): each view commits its own changes and catches up with what others committed. */
  async reloadVolumes(): Promise<void> {
    await Promise.all(this.spec.volumes.map((view) => view.reload()));
  }

  /** Resolves once a finished sandbox's processes are gone and its private directories removed. */
  settled(): Promise<void> {
    return this.cleanedUp ?? this.finished.promise.then(() => this.cleanedUp);
  }

  private async cleanup(): Promise<void> {
    await Promise.race([this.bwrapExited.promise, delayValue(5000, undefined)]);
    await this.finalCommits;
    await rm(this.config.sandboxDir, { recursive: true, force: true }).catch(() => undefined);
  }

  private bwrapArgs(tmpDir: string, homeDir: string): string[] {
    const args = [
      '--die-with-parent',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-cgroup-try',
      ...(this.config.userNamespace ? ['--unshare-user', '--uid', '0', '--gid', '0'] : []),
      // Always a network of its own: this machine's loopback is never the sandbox's (network.ts connects it).
      '--unshare-net',
      '--hostname',
      'modal',
      '--tmpfs',
      '/',
      // The image's own /usr: only what its recipe installs (images.ts). /etc is this machine's.
      '--ro-bind',
      join(this.spec.image, 'usr'),
      '/usr',
      '--ro-bind',
      '/etc',
      '/etc',
    ];
    // What else the image holds at its top (/opt and the like; the standard empty ones are the sandbox's own).
    for (const top of readdirSync(this.spec.image)) {
      if (OWN_TOP_DIRS.has(top) || readdirSync(join(this.spec.image, top)).length === 0) continue;
      args.push('--ro-bind', join(this.spec.image, top), `/${top}`);
    }
    // Merged-/usr hosts have /bin -> usr/bin etc. (the image follows the host's layout); older ones have directories.
    for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
      const info = lstatSync(top, { throwIfNoEntry: false });
      if (!info) continue;
      if (info.isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
      else if (existsSync(join(this.spec.image, top))) args.push('--ro-bind', join(this.spec.image, top), top);
    }
    // DNS on systemd hosts: /etc/resolv.conf points into /run.
    try {
      const resolv = realpathSync('/etc/resolv.conf');
      if (!resolv.startsWith('/etc/') && !resolv.startsWith('/usr/')) args.push('--ro-bind-try', resolv, resolv);
    } catch {
      // No resolver configuration on the host.
    }
    args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/dev/shm', '--dir', '/var/tmp', '--tmpfs', '/run');
    args.push('--bind', tmpDir, '/tmp', '--bind', homeDir, '/root');
    // Parents before children, so a volume mounted inside another is not hidden by it.
    const views = [...this.spec.volumes].sort((a, b) => depth(a.mountPath) - depth(b.mountPath));
    for (const view of views) args.push(view.readOnly ? '--ro-bind' : '--bind', view.dir, view.mountPath);
    // Every uid may sync (bwrap would make the parent 0700).
    args.push('--perms', '0755', '--dir', '/__modal', '--bind', this.syncChannel.hostDir, CONTROL_DIR);
    args.push('--ro-bind', this.config.syncShim, '/usr/bin/sync');
    // Extra host binds come last, so one under /tmp, /root or /run is not hidden by the sandbox's own mounts there.
    // Missing parents of an extra bind would be made by bwrap with mode 0700, which only root can traverse (a
    // non-root process in the sandbox could not reach the bound file); directories in a real image are 0755.
    const madeDirs = new Set<string>();
    const bound: string[] = [];
    for (const extra of this.config.extraReadOnlyBinds) {
      if (!existsSync(extra)) continue;
      const parts = posix.normalize(extra).split('/').filter(Boolean);
      for (let i = 1; i < parts.length; i++) {
        const dir = `/${parts.slice(0, i).join('/')}`;
        const provided = ['/usr', '/etc', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'].some((top) => isUnder(dir, top));
        if (provided || madeDirs.has(dir) || bound.some((b) => isUnder(dir, b))) continue;
        madeDirs.add(dir);
        args.push('--perms', '0755', '--dir', dir);
      }
      args.push('--ro-bind', extra, extra);
      bound.push(posix.normalize(extra));
    }
    const workdir = this.spec.workdir;
    if (workdir !== '/' && !isUnder(workdir, '/usr') && !isUnder(workdir, '/etc') && !isUnder(workdir, '/proc')) {
      args.push('--dir', workdir);
    }
    args.push('--chdir', workdir, '--info-fd', '3');
    return args;
  }
}

/** What a stream has yielded once `complete` says it is enough, or when it ends (writer closed, or error). */
function readUntil(stream: NodeJS.ReadableStream | null, complete: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    if (!stream) return resolve('');
    let text = '';
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (complete(text)) resolve(text);
    });
    stream.on('end', () => resolve(text));
    stream.on('error', () => resolve(text));
  });
}

function parseChildPid(text: string): number | undefined {
  // bwrap writes a JSON object; tolerate it arriving with surrounding whitespace or in pieces.
  const match = /"child-pid"\s*:\s*(\d+)/.exec(text);
  return match ? Number(match[1]) : undefined;
}

function depth(path: string): number {
  return posix.normalize(path).split('/').filter(Boolean).length;
}

function isUnder(path: string, root: string): boolean {
  const normal = posix.normalize(path);
  return normal === root || normal.startsWith(`${root}/`);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return osConstants.signals[signal] ?? 9;
}

function delayValue<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

/** Host directory for a sandbox's private state. */
export function sandboxDirFor(stateDir: string, sandboxId: string): string {
  return join(stateDir, 'sandboxes', sandboxId);
}
