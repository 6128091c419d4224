/**
 * One warm, named sandbox per active user, shared by files, git and agent runs.
 *
 * - Name and volume: `dreamcore-user-{userId}` (the user's v2 Volume mounted read-write at /vol, the global skills
 *   Volume read-only at /skills), tags `{ app: 'dreamcore', role: 'user', user: userId }`.
 * - Created on first use (or by `prewarm`); concurrent first calls share one creation promise. A create that finds
 *   the name taken (another server process made it) attaches to that sandbox by name instead.
 * - Liveness comes from Modal's own state, never from an error's text: a sandbox not used for longer than its idle
 *   timeout, or older than its lifetime, is asked (`poll`, one RPC) before use and replaced if it has finished; an
 *   operation that fails is followed by the same question, and if the sandbox has finished the operation runs once
 *   more on a new one. `prewarm` always asks, so a reaped sandbox is revived off the user's path.
 * - Volumes must be v2 (`sync /vol` commits them). A user whose volume is v1 is refused with NOT_CONFIGURED naming
 *   the migration command: on v1 nothing is durable before the sandbox ends, so using it would lose data.
 * - Every step is bounded (config.deadlines): Modal not answering is NETWORK_ERROR, never a hang.
 *
 * RPCs: cold first action of a process = AuthTokenGet + AppGetOrCreate + 2× VolumeGetOrCreate (user, skills, in
 * parallel) + EnvironmentGetOrCreate + ImageGetOrCreate + SandboxCreateV2; a later cold user = VolumeGetOrCreate +
 * SandboxCreateV2; a warm user = 0 (+1 SandboxWaitV2 after an idle spell or on prewarm).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { App, Image, ModalClient, Sandbox, Volume } from 'modal';
import { createError, isBackendError } from '@dreamcore/runtime-core';
import { attachHelper, errorClass, helperOf, isSandboxGone, modalFailure, sandboxError, sandboxIsRunning, withDeadline, type ModalSdk } from './client.js';
import { MIGRATE_V1_COMMAND, MOUNT, type ResolvedModalConfig } from './config.js';
import { SandboxHelper } from './helper.js';
import { deployedImage } from './images.js';

/**
 * The sandbox's entrypoint: the backend's own scratch space exists and is closed to the agent, stale temporaries
 * from a crashed write are dropped, and the volume root is not listable by the agent's uid. Nothing visible through
 * the contract is created here (a fresh user still has no projects and no asset space).
 */
const ENTRYPOINT = [
  'sh',
  '-c',
  `mkdir -p ${MOUNT.volume}/.tmp && chmod 700 ${MOUNT.volume}/.tmp; chmod 711 ${MOUNT.volume}; ` +
    `find ${MOUNT.volume}/.tmp -mindepth 1 -mmin +60 -delete 2>/dev/null; exec sleep infinity`,
];

/** A sandbox older than its lifetime, or idle for longer than its idle timeout, minus this, is checked before use. */
const STALE_MARGIN_MS = 5_000;

/**
 * How long a sandbox's command helper waits for work before it ends itself: at most 5 minutes, and at most half the
 * sandbox's idle timeout, so that an unused sandbox is still reaped (a running exec keeps a sandbox active).
 */
export function helperIdleMs(idleTimeoutMs: number): number {
  return Math.max(100, Math.min(5 * 60_000, Math.floor(idleTimeoutMs / 2)));
}

export interface SandboxPool {
  /** The user's running sandbox, created or attached on first use (checked first if it may have been reaped). */
  get(userId: string): Promise<Sandbox>;
  /** Like `get`, but always asks Modal whether a held sandbox still runs, and replaces it if not (prewarm). */
  revive(userId: string): Promise<Sandbox>;
  /**
   * Runs `fn` on the user's sandbox. If it fails and the sandbox turns out to have finished, runs it once more on a
   * new one. Failures of Modal itself become contract errors; `what` names the operation in them.
   */
  use<T>(userId: string, what: string, fn: (sandbox: Sandbox) => Promise<T>): Promise<T>;
  /**
   * Brings the user's sandbox's view of the volume up to what others committed (a render sandbox, a migration), if
   * this process holds a running one; a new sandbox mounts the committed state anyway.
   */
  reloadVolumes(userId: string): Promise<void>;
  /** Forgets `sandbox` as the user's sandbox (it died), so the next `get` replaces it. */
  forget(userId: string, sandbox: Sandbox): void;
  /** Sandboxes currently held (for tests and metrics). */
  readonly size: number;
  close(): Promise<void>;
}

export interface SandboxPoolDeps {
  /** The SDK and its client, made lazily by the backend (nothing is contacted before the first use). */
  modal: () => Promise<{ sdk: ModalSdk; client: ModalClient }>;
  config: ResolvedModalConfig;
}

/**
 * The CIDRs a user sandbox may reach: as configured, or in proxy mode only the key proxy's own addresses (the one
 * thing the agent talks to), looked up when a sandbox is made. Undefined: no restriction.
 */
export async function outboundAllowlist(config: ResolvedModalConfig): Promise<string[] | undefined> {
  const configured = config.sandbox.outboundCidrAllowlist;
  if (configured === 'open') return undefined;
  if (configured) return configured;
  if (config.keyMode !== 'proxy' || !config.agent.proxyPublicUrl) return undefined;
  const host = new URL(config.agent.proxyPublicUrl).hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await lookup(host, { all: true }).catch((error: unknown) => {
        throw createError('NETWORK_ERROR', `the key proxy's host ${host} does not resolve: ${(error as Error).message}`, { cause: error });
      });
  return [...new Set(addresses.map((a) => `${a.address}/${a.family === 6 ? 128 : 32}`))];
}

export function sandboxName(config: ResolvedModalConfig, userId: string): string {
  return `${config.volumePrefix}${userId}`;
}

interface Held {
  sandbox: Sandbox;
  /** When this process made or attached it (an attached one may be older: then it is only checked sooner). */
  since: number;
  lastUsed: number;
}

export function createSandboxPool({ modal, config }: SandboxPoolDeps): SandboxPool {
  const live = new Map<string, Promise<Held>>();
  const everUsed = new Set<Sandbox>();
  const { deadlines } = config;
  let app: Promise<App> | undefined;
  let skills: Promise<Volume> | undefined;
  let image: Promise<Image> | undefined;
  let closed = false;

  const env = () => (config.environment ? { environment: config.environment } : {});
  const getApp = (client: ModalClient) => {
    app ??= client.apps.fromName(config.appName, { createIfMissing: true, ...env() });
    app.catch(() => (app = undefined));
    return app;
  };
  const getSkills = (client: ModalClient) => {
    skills ??= v2Volume(client, config.skillsVolume, 'the skills volume').then((volume) => volume.withMountOptions({ readOnly: true }));
    skills.catch(() => (skills = undefined));
    return skills;
  };
  // The deployed image, looked up by name once (never built here: a user's request must not wait for a build).
  const getImage = (client: ModalClient) => {
    image ??= deployedImage(client, config, 'user');
    image.catch(() => (image = undefined));
    return image;
  };

  /** A v2 volume by name (made if missing); a v1 volume of that name is refused, never used. */
  async function v2Volume(client: ModalClient, name: string, what: string): Promise<Volume> {
    try {
      return await client.volumes.fromName(name, { createIfMissing: true, version: 2, ...env() });
    } catch (error) {
      // With a version given, the SDK's only InvalidError is "exists with another version".
      if (errorClass(error) === 'InvalidError') {
        throw createError(
          'NOT_CONFIGURED',
          `${what} (${name}) is a v1 Modal volume, on which nothing is durable until its sandbox ends; ` + `move it to v2 first: ${MIGRATE_V1_COMMAND} ${name}`,
          { details: { volume: name, version: 1, command: `${MIGRATE_V1_COMMAND} ${name}` } },
        );
      }
      throw error;
    }
  }

  async function create(userId: string): Promise<Sandbox> {
    const { sdk, client } = await modal();
    const name = sandboxName(config, userId);
    const [theApp, volume, skillsVolume, outbound, theImage] = await Promise.all([
      getApp(client),
      v2Volume(client, name, `the volume of user ${userId}`),
      getSkills(client),
      outboundAllowlist(config),
      getImage(client),
    ]);
    try {
      return await client.sandboxes.create(theApp, theImage, {
        name,
        tags: { app: 'dreamcore', role: 'user', user: userId },
        command: ENTRYPOINT,
        workdir: MOUNT.volume,
        volumes: { [MOUNT.volume]: volume, [MOUNT.skills]: skillsVolume },
        cpu: config.sandbox.cpu,
        memoryMiB: config.sandbox.memoryMiB,
        timeoutMs: config.sandbox.timeoutMs,
        idleTimeoutMs: config.sandbox.idleTimeoutMs,
        env: { LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
        ...(outbound ? { outboundCidrAllowlist: outbound } : {}),
      });
    } catch (error) {
      // Another process of this deployment holds the name: use its sandbox (same volume, same image).
      if (error instanceof sdk.AlreadyExistsError) return client.sandboxes.fromName(config.appName, name, env());
      throw error;
    }
  }

  /** The held entry, or a new one; `check` says when to ask Modal whether a held sandbox still runs. */
  async function acquire(userId: string, check: (held: Held) => boolean): Promise<Held> {
    if (closed) throw createError('UNAVAILABLE', 'the Modal backend is closed');
    const entry = live.get(userId);
    if (entry) {
      let held: Held;
      try {
        held = await entry;
      } catch (error) {
        // The creation this call joined failed: that is this call's answer too (no second wait).
        throw modalFailure(error, "starting the user's sandbox");
      }
      if (live.get(userId) === entry) {
        if (!check(held) || (await sandboxIsRunning(held.sandbox, deadlines.rpcMs))) return held;
        drop(userId, held.sandbox, 'has finished');
      }
    }
    let made = live.get(userId);
    if (!made) {
      made = withDeadline(deadlines.sandboxStartMs, "starting the user's sandbox", () => create(userId)).then((sandbox) => {
        everUsed.add(sandbox);
        // The command helper starts with the sandbox, so the first commands find it running (helper.ts).
        const helper = new SandboxHelper(sandbox, { idleMs: helperIdleMs(config.sandbox.idleTimeoutMs), rpcMs: deadlines.rpcMs });
        attachHelper(sandbox, helper);
        helper.start();
        const now = Date.now();
        return { sandbox, since: now, lastUsed: now };
      });
      live.set(userId, made);
      const mine = made;
      // A failed creation is not cached: the next call tries again.
      mine.catch(() => {
        if (live.get(userId) === mine) live.delete(userId);
      });
    }
    try {
      return await made;
    } catch (error) {
      throw modalFailure(error, "starting the user's sandbox");
    }
  }

  /** Whether a held sandbox may have ended without us: idle past its idle timeout, or past its lifetime. */
  const mayBeGone = (held: Held) => {
    const now = Date.now();
    return now - held.lastUsed > config.sandbox.idleTimeoutMs - STALE_MARGIN_MS || now - held.since > config.sandbox.timeoutMs - STALE_MARGIN_MS;
  };

  function drop(userId: string, sandbox: Sandbox, why: string): void {
    helperOf(sandbox)?.close();
    const entry = live.get(userId);
    if (!entry) return;
    void entry.then(
      (held) => {
        if (held.sandbox === sandbox && live.get(userId) === entry) live.delete(userId);
      },
      () => undefined,
    );
    config.log(`sandbox ${sandbox.sandboxId} of user ${userId} ${why}; the next call starts a new one`);
  }

  const pool: SandboxPool = {
    async get(userId) {
      return (await acquire(userId, mayBeGone)).sandbox;
    },

    async revive(userId) {
      const { sandbox } = await acquire(userId, () => true);
      await helperOf(sandbox)?.ready(); // again, if it idled out while the user was away
      return sandbox;
    },

    async reloadVolumes(userId) {
      const held = await live.get(userId)?.catch(() => undefined);
      if (!held) return;
      try {
        await withDeadline(deadlines.rpcMs, 'reloading the volume', () => held.sandbox.reloadVolumes());
      } catch (error) {
        // A sandbox that has finished needs no reload (its replacement mounts the committed state).
        if (await sandboxIsRunning(held.sandbox, deadlines.rpcMs)) throw modalFailure(error, 'reloading the volume');
        drop(userId, held.sandbox, 'has finished');
      }
    },

    forget(userId, sandbox) {
      drop(userId, sandbox, 'is gone');
    },

    async use(userId, what, fn) {
      for (let attempt = 0; ; attempt++) {
        const held = await acquire(userId, mayBeGone);
        let failure: unknown;
        try {
          const result = await fn(held.sandbox);
          held.lastUsed = Date.now();
          return result;
        } catch (error) {
          failure = error;
        }
        // The operation's own outcome (NOT_FOUND, CONFLICT, ...) or a deadline: nothing to say about the sandbox.
        if (isBackendError(failure) && !isSandboxGone(failure)) throw failure;
        // Did the sandbox go away? Ask Modal; the error's text is no evidence either way.
        const gone = isSandboxGone(failure) || !(await sandboxIsRunning(held.sandbox, deadlines.rpcMs));
        if (!gone) throw modalFailure(failure, what);
        // Forget it synchronously so the retry's `acquire` creates a new one.
        if ((await live.get(userId)?.catch(() => null))?.sandbox === held.sandbox) live.delete(userId);
        if (attempt >= 1 || closed) throw sandboxError(failure, what);
        config.log(`sandbox ${held.sandbox.sandboxId} of user ${userId} has finished; running ${what} again on a new one`);
      }
    },

    get size() {
      return live.size;
    },

    async close() {
      closed = true;
      const sandboxes = [...everUsed];
      live.clear();
      everUsed.clear();
      for (const sandbox of sandboxes) helperOf(sandbox)?.close();
      if (config.terminateOnClose) {
        await Promise.allSettled(sandboxes.map((sandbox) => withDeadline(deadlines.rpcMs, 'terminating a sandbox', () => sandbox.terminate())));
      }
      for (const sandbox of sandboxes) {
        try {
          sandbox.detach();
        } catch {
          // already detached
        }
      }
    },
  };
  return pool;
}
