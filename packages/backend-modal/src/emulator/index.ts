/**
 * A local Modal: a gRPC server on loopback that the real `modal` JS SDK (0.11.1) talks to when
 * `MODAL_SERVER_URL=http://127.0.0.1:PORT` is set, so the Modal backend can be tested offline. Nothing in the SDK
 * is patched or mocked: the emulator speaks its wire protocol, decoding with the SDK's own generated codecs.
 *
 * One port serves both services: the control plane (`modal.client.ModalClient`) and the task command router
 * (`modal.task_command_router.TaskCommandRouter`), which sandboxes are told to reach at `https://127.0.0.1:PORT`.
 * The SDK dials a router without TLS whenever its control-plane URL is a loopback address, so plain HTTP/2 works.
 *
 * Sandboxes are bubblewrap containers, each in a network namespace of its own, that see only the image their recipe
 * builds (images.ts: this machine's Debian packages and this checkout, at the paths the recipe installs them to).
 * Volumes keep their committed state under the state dir and give each sandbox a private view (volumes.ts). See
 * sandbox.ts for the process model and README-emulator.md for what is and is not emulated.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  createServer,
  ServerError,
  Status,
  type CallContext,
  type ServerMiddlewareCall,
  type ServiceImplementation,
  type TsProtoServiceDefinition,
} from 'nice-grpc';
import { commandRouterService } from './command-router.js';
import { controlPlaneService } from './control-plane.js';
import { DEFAULT_ENVIRONMENT, EmulatorCore } from './core.js';
import { loadModalDefinitions } from './definitions.js';
import { networkProblem, publish, type Published } from './network.js';
import { writeSyncShim } from './sync-channel.js';
import { delay, modalError } from './util.js';

export { EXPECTED_SDK_VERSION, loadModalDefinitions } from './definitions.js';
export { FS_TOOLS_PATH } from './fs-tools.js';
export { INTERNET_ADDRESS, networkProblem, provisionNetwork, type Published } from './network.js';

export interface ModalEmulatorOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /**
   * Where volumes and per-sandbox /tmp and home live. Default: a new temporary directory, removed by `close()`.
   * A directory you pass is kept, and named volumes in it are found again by a later emulator.
   */
  stateDir?: string;
  /**
   * Fixed delay added to every RPC before it is handled, to model a real network round trip.
   * Default: `MODAL_EMULATOR_RPC_DELAY_MS` from the environment, else 0.
   */
  rpcDelayMs?: number;
  /**
   * How long after creation a sandbox can run its first exec (Modal: the container starting). 'modal' draws each
   * sandbox's from the published figures (create to first command, median 1.7–2.7 s: uniform in that range). Default
   * `MODAL_EMULATOR_COLD_START_MS`, else 0.
   */
  coldStartMs?: number | 'modal';
  /** Added to every exec start (a process spawned under gVisor). Default `MODAL_EMULATOR_EXEC_MS`, else 0. */
  execMs?: number;
  /** Only accept these credentials (`MODAL_TOKEN_ID`/`MODAL_TOKEN_SECRET`). Default: any non-empty pair. */
  credentials?: { tokenId: string; tokenSecret: string };
  /** Named secrets in the default environment, for `client.secrets.fromName(name)`. */
  secrets?: Record<string, Record<string, string>>;
  /**
   * Where built image trees are kept (default `DREAMCORE_MODAL_IMAGE_CACHE`, else
   * `~/.cache/dreamcore/modal-emulator/images`): shared by every emulator on this machine, so an image is built once.
   */
  imageCacheDir?: string;
  /** Host paths to bind read-only into every sandbox at the same place (e.g. `/opt`). /etc always is. */
  extraReadOnlyBinds?: string[];
  /** Explicit paths to `bwrap` and `nsenter`; looked up on PATH otherwise. */
  bwrapPath?: string;
  nsenterPath?: string;
  /** Receives emulator-side failures that are not the client's fault (they reach the client as INTERNAL). */
  onError?: (error: unknown, method: string) => void;
}

export interface ModalEmulator {
  /** Control-plane URL, the value for `MODAL_SERVER_URL`. */
  readonly url: string;
  /** What sandboxes hand out as their command router address. */
  readonly routerUrl: string;
  readonly port: number;
  readonly stateDir: string;
  /** Version of the SDK whose definitions are served. */
  readonly sdkVersion: string;
  /** Environment variables that point the SDK here (URL and a token pair the emulator accepts). */
  clientEnv(): Record<'MODAL_SERVER_URL' | 'MODAL_TOKEN_ID' | 'MODAL_TOKEN_SECRET', string>;
  /**
   * Models a network partition: while false, every new RPC gets
   * no answer until the client gives up, so a client without deadlines hangs. Back to true answers the held calls
   * with UNAVAILABLE.
   */
  setReachable(reachable: boolean): void;
  /**
   * Makes a service on this machine reachable from sandboxes at `http://198.18.0.1:<port>` (what an ingress or a
   * tunnel is in production; sandboxes cannot reach this machine's loopback). `publicPort` 0 picks a free port.
   * Closed with the emulator.
   */
  publish(targetPort: number, options?: { targetHost?: string; publicPort?: number }): Promise<Published>;
  /** Calls per RPC method name (both services) since start or the last `resetCounts()`. */
  rpcCounts(): Record<string, number>;
  /** Changes the delay added to every RPC from now on (a bench sweeps it without a new emulator). */
  setRpcDelayMs(ms: number): void;
  /** Changes the time added to every exec start from now on (option `execMs`). */
  setExecMs(ms: number): void;
  resetCounts(): void;
  /** Creates or replaces a named secret. */
  setSecret(name: string, values: Record<string, string>, environment?: string): void;
  /**
   * Host folder of a named volume's committed state (what a sandbox starting now would see), or undefined when
   * there is no such volume. Sandboxes work on private views of it; see volumes.ts.
   */
  volumePath(name: string, environment?: string): string | undefined;
  /** The volume's version (1 or 2), or undefined when there is no such volume. */
  volumeVersion(name: string, environment?: string): 1 | 2 | undefined;
  /** Ids of sandboxes that are still running. */
  runningSandboxes(): string[];
  /** Ends a sandbox from outside, as `modal sandbox terminate` or the dashboard would: its volumes are committed. */
  terminateSandbox(sandboxId: string): Promise<void>;
  /**
   * Ends a sandbox as a lost worker would (host failure, preemption): every process dies mid-exec and nothing is
   * committed, so writes not yet synced to a v2 volume are lost.
   */
  killSandbox(sandboxId: string): Promise<void>;
  /** Terminates every sandbox, stops the server, and removes a temporary state dir. */
  close(): Promise<void>;
}

/** Starts an emulator on 127.0.0.1. Requires Linux with `bwrap` (bubblewrap) and `nsenter` (util-linux). */
export async function startModalEmulator(options: ModalEmulatorOptions = {}): Promise<ModalEmulator> {
  if (process.platform !== 'linux') throw new Error('The Modal emulator needs Linux (bubblewrap sandboxes)');
  const bwrapPath = options.bwrapPath ?? findOnPath('bwrap', 'bubblewrap (apt-get install bubblewrap)');
  const nsenterPath = options.nsenterPath ?? findOnPath('nsenter', 'util-linux');
  const isRoot = process.getuid?.() === 0;
  const networkMissing = networkProblem();
  if (networkMissing) throw new Error(`Cannot start the Modal emulator: ${networkMissing}`);
  const defs = loadModalDefinitions();

  const ownsStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'modal-emulator-')));
  let rpcDelayMs = options.rpcDelayMs ?? numberFromEnv('MODAL_EMULATOR_RPC_DELAY_MS') ?? 0;

  const core = new EmulatorCore({
    stateDir,
    bwrapPath,
    nsenterPath,
    extraReadOnlyBinds: options.extraReadOnlyBinds ?? [],
    credentials: options.credentials,
    routerUrl: '',
    userNamespace: !isRoot,
    syncShim: await writeSyncShim(stateDir),
    imageCacheDir: options.imageCacheDir,
    latency: {
      coldStartMs: coldStart(
        options.coldStartMs ?? (process.env['MODAL_EMULATOR_COLD_START_MS'] === 'modal' ? 'modal' : numberFromEnv('MODAL_EMULATOR_COLD_START_MS')) ?? 0,
      ),
      execMs: options.execMs ?? numberFromEnv('MODAL_EMULATOR_EXEC_MS') ?? 0,
    },
  });
  await core.loadVolumes();
  await core.loadImages();
  for (const [name, values] of Object.entries(options.secrets ?? {})) core.putSecret(DEFAULT_ENVIRONMENT, name, values);

  const counts = new Map<string, number>();
  // While unreachable, every call is held without an answer (as behind a network partition) until the client gives
  // up or the emulator is reachable again, when it is told UNAVAILABLE (the SDK retries that).
  let reachable = true;
  const held = new Set<() => void>();
  async function* meter<Request, Response>(call: ServerMiddlewareCall<Request, Response>, context: CallContext) {
    const path = call.method.path;
    const method = path.slice(path.lastIndexOf('/') + 1);
    counts.set(method, (counts.get(method) ?? 0) + 1);
    if (!reachable) {
      await new Promise<void>((resolve) => {
        const release = () => {
          held.delete(release);
          context.signal.removeEventListener('abort', release);
          resolve();
        };
        held.add(release);
        context.signal.addEventListener('abort', release, { once: true });
      });
      throw modalError(Status.UNAVAILABLE, 'connection reset', 'upstream connect error', 'service unavailable');
    }
    if (rpcDelayMs > 0) await delay(rpcDelayMs, context.signal);
    try {
      return yield* call.next(call.request, context);
    } catch (error) {
      if (error instanceof ServerError || context.signal.aborted) throw error;
      options.onError?.(error, method);
      throw new ServerError(Status.INTERNAL, `Modal emulator: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  // The SDK allows 100 MiB messages (a large stdin write); grpc-js servers default to 4 MiB.
  const server = createServer({
    'grpc.max_receive_message_length': 100 * 1024 * 1024,
    'grpc.max_send_message_length': 100 * 1024 * 1024,
  }).use(meter);
  server.add(defs.modalClient, complete(defs.modalClient, controlPlaneService(core)));
  server.add(defs.taskCommandRouter, complete(defs.taskCommandRouter, commandRouterService(core)));
  const port = await server.listen(`127.0.0.1:${options.port ?? 0}`);
  const url = `http://127.0.0.1:${port}`;
  core.options.routerUrl = `https://127.0.0.1:${port}`;

  const publishedServices = new Set<Published>();
  let closing: Promise<void> | undefined;
  return {
    url,
    routerUrl: core.options.routerUrl,
    port,
    stateDir,
    sdkVersion: defs.sdkVersion,
    clientEnv: () => ({
      MODAL_SERVER_URL: url,
      MODAL_TOKEN_ID: options.credentials?.tokenId ?? 'ak-emulator',
      MODAL_TOKEN_SECRET: options.credentials?.tokenSecret ?? 'as-emulator',
    }),
    async publish(targetPort, publishOptions) {
      const published = await publish(targetPort, publishOptions);
      publishedServices.add(published);
      return published;
    },
    setReachable(value) {
      reachable = value;
      if (value) for (const release of [...held]) release();
    },
    rpcCounts: () => Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b))),
    resetCounts: () => counts.clear(),
    setRpcDelayMs(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`rpc delay must be a non-negative number of ms, not ${ms}`);
      rpcDelayMs = ms;
    },
    setExecMs(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`exec start must be a non-negative number of ms, not ${ms}`);
      core.options.latency.execMs = ms;
    },
    setSecret: (name, values, environment) => void core.putSecret(core.environment(environment), name, values),
    volumePath: (name, environment) => core.findVolume(core.environment(environment), name)?.hostPath,
    volumeVersion: (name, environment) => core.findVolume(core.environment(environment), name)?.version,
    runningSandboxes: () => [...core.sandboxes.values()].filter((s) => s.running).map((s) => s.id),
    async terminateSandbox(sandboxId) {
      const sandbox = core.sandbox(sandboxId);
      sandbox.terminate();
      await sandbox.settled();
    },
    async killSandbox(sandboxId) {
      const sandbox = core.sandbox(sandboxId);
      sandbox.kill();
      await sandbox.settled();
    },
    close: () =>
      (closing ??= (async () => {
        reachable = true;
        for (const release of [...held]) release();
        await Promise.allSettled([...publishedServices].map((p) => p.close()));
        await core.shutdown();
        // Held-open long polls (exec wait, stdio) would keep a graceful shutdown waiting forever.
        server.forceShutdown();
        if (ownsStateDir) await rm(stateDir, { recursive: true, force: true });
      })()),
  };
}

/**
 * nice-grpc needs a handler for every method of a service; the ones the emulator does not implement answer
 * UNIMPLEMENTED, naming the method, so a new SDK call shows up as a clear error instead of a hang.
 */
function complete(definition: TsProtoServiceDefinition, handlers: Record<string, unknown>): ServiceImplementation<TsProtoServiceDefinition> {
  const full: Record<string, unknown> = { ...handlers };
  for (const [key, method] of Object.entries(definition.methods)) {
    if (Object.hasOwn(full, key)) continue;
    const error = (): ServerError => new ServerError(Status.UNIMPLEMENTED, `${definition.name}.${method.name} is not emulated`);
    full[key] = method.responseStream
      ? // eslint-disable-next-line require-yield -- a stream that fails before its first message
        async function* () {
          throw error();
        }
      : async () => {
          throw error();
        };
  }
  // The definitions are loaded at run time, so their message types are unknown to the compiler; each handler is
  // typed against the codecs' field names where it is written (control-plane.ts, command-router.ts).
  return full as ServiceImplementation<TsProtoServiceDefinition>;
}

function findOnPath(command: string, packageHint: string): string {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).concat(['/usr/bin', '/usr/sbin', '/bin', '/sbin']);
  for (const dir of dirs) {
    const candidate = join(dir, command);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Next.
    }
  }
  throw new Error(`The Modal emulator needs \`${command}\` (${packageHint}) to run sandboxes`);
}

/** A sandbox's cold start: fixed, or (for 'modal') drawn per sandbox in the published median range, 1.7–2.7 s. */
function coldStart(value: number | 'modal'): () => number {
  return value === 'modal' ? () => 1700 + Math.random() * 1000 : () => value;
}

function numberFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

/**
 * Whether this machine can run the emulator's sandboxes, for callers that skip a test lane rather than fail.
 * Runs one throw-away `bwrap` (read-only view of /) to catch kernels where user namespaces are disabled.
 */
export function emulatorPrerequisites(): { ok: boolean; missing: string[] } {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('linux');
  for (const command of ['bwrap', 'nsenter']) {
    try {
      findOnPath(command, '');
    } catch {
      missing.push(command);
    }
  }
  if (missing.length === 0 && existsSync('/proc/self/ns/user')) {
    try {
      execFileSync(findOnPath('bwrap', ''), ['--ro-bind', '/', '/', '--unshare-pid', 'true'], { stdio: 'ignore' });
    } catch {
      missing.push('working bwrap (user namespaces may be disabled)');
    }
  }
  return { ok: missing.length === 0, missing };
}
