/**
 * One warm, named sandbox per active user, shared by files, git and agent runs.
 *
 * - Name and volume: `dreamcore-user-{userId}` (the user's Volume mounted read-write at /vol, the global skills
 *   Volume read-only at /skills), tags `{ app: 'dreamcore', role: 'user', user: userId }`.
 * - Created on first use (or by `prewarm`); concurrent first calls share one creation promise. A create that finds
 *   the name taken (another process of this deployment made it) attaches to that sandbox by name instead.
 * - A sandbox that died (terminated, timed out, idle-reaped) is noticed when an operation fails with the SDK's
 *   "not found / already finished" errors, forgotten, and the operation runs once more on a fresh one. A second
 *   failure is SANDBOX_ERROR.
 * - Only one sandbox mounts a user's volume read-write at a time, and every read and write of that user goes through
 *   it, so no reader sees data staler than the last synced write; a replacement mounts the volume fresh.
 *
 * RPCs: cold first action of a process = AuthTokenGet + AppGetOrCreate + 2× VolumeGetOrCreate (user, skills, in
 * parallel) + EnvironmentGetOrCreate + ImageGetOrCreate + SandboxCreateV2; a later cold user = VolumeGetOrCreate +
 * SandboxCreateV2; a warm user = 0.
 */
import type { App, Image, ModalClient, Sandbox, Volume } from 'modal';
import { createError, isBackendError } from '@dreamcore/runtime-core';
import { isSandboxGone, sandboxError, type ModalSdk } from './client.js';
import { MOUNT, type ResolvedModalConfig } from './config.js';

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

export interface SandboxPool {
  /** The user's running sandbox, created or attached on first use. */
  get(userId: string): Promise<Sandbox>;
  /**
   * Runs `fn` on the user's sandbox; if the sandbox turns out to be gone, forgets it and runs `fn` once more on a
   * fresh one. `what` names the operation in a SANDBOX_ERROR.
   */
  use<T>(userId: string, what: string, fn: (sandbox: Sandbox) => Promise<T>): Promise<T>;
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

export function sandboxName(config: ResolvedModalConfig, userId: string): string {
  return `${config.volumePrefix}${userId}`;
}

export function createSandboxPool({ modal, config }: SandboxPoolDeps): SandboxPool {
  const live = new Map<string, Promise<Sandbox>>();
  const everUsed = new Set<Sandbox>();
  let app: Promise<App> | undefined;
  let skills: Promise<Volume> | undefined;
  let image: Image | undefined;
  let closed = false;

  const getApp = (client: ModalClient) => {
    app ??= client.apps.fromName(config.appName, { createIfMissing: true, ...env() });
    app.catch(() => (app = undefined));
    return app;
  };
  const getSkills = (client: ModalClient) => {
    skills ??= client.volumes.fromName(config.skillsVolume, { createIfMissing: true, ...env() }).then((volume) => volume.withMountOptions({ readOnly: true }));
    skills.catch(() => (skills = undefined));
    return skills;
  };
  // One Image object for the backend's life: the SDK builds it on the first create and reuses its id afterwards.
  const getImage = (client: ModalClient) => (image ??= client.images.fromRegistry(config.sandbox.baseImage).dockerfileCommands(config.sandbox.imageCommands));
  const env = () => (config.environment ? { environment: config.environment } : {});

  async function create(userId: string): Promise<Sandbox> {
    const { sdk, client } = await modal();
    const name = sandboxName(config, userId);
    const [theApp, volume, skillsVolume] = await Promise.all([
      getApp(client),
      client.volumes.fromName(name, { createIfMissing: true, ...env() }),
      getSkills(client),
    ]);
    try {
      return await client.sandboxes.create(theApp, getImage(client), {
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
        ...(config.sandbox.outboundCidrAllowlist ? { outboundCidrAllowlist: config.sandbox.outboundCidrAllowlist } : {}),
      });
    } catch (error) {
      // Another process of this deployment holds the name: use its sandbox (same volume, same image).
      if (error instanceof sdk.AlreadyExistsError) return client.sandboxes.fromName(config.appName, name, env());
      throw error;
    }
  }

  const pool: SandboxPool = {
    get(userId) {
      if (closed) return Promise.reject(createError('UNAVAILABLE', 'the Modal backend is closed'));
      let entry = live.get(userId);
      if (!entry) {
        entry = create(userId).then((sandbox) => {
          everUsed.add(sandbox);
          return sandbox;
        });
        live.set(userId, entry);
        // A failed creation is not cached: the next call tries again.
        entry.catch(() => {
          if (live.get(userId) === entry) live.delete(userId);
        });
      }
      return entry.catch((error: unknown) => {
        if (isBackendError(error)) throw error;
        throw createError('UNAVAILABLE', `could not start the user's sandbox: ${(error as Error)?.message ?? String(error)}`, {
          cause: error,
        });
      });
    },

    forget(userId, sandbox) {
      const entry = live.get(userId);
      if (!entry) return;
      void entry.then(
        (current) => {
          if (current === sandbox && live.get(userId) === entry) {
            live.delete(userId);
            config.log(`sandbox ${sandbox.sandboxId} of user ${userId} is gone; the next call starts a new one`);
          }
        },
        () => undefined,
      );
    },

    async use(userId, what, fn) {
      for (let attempt = 0; ; attempt++) {
        const sandbox = await pool.get(userId);
        try {
          return await fn(sandbox);
        } catch (error) {
          if (!isSandboxGone(error)) throw error;
          // Forget it synchronously so the retry's `get` creates a new one.
          if ((await live.get(userId)?.catch(() => null)) === sandbox) live.delete(userId);
          if (attempt >= 1 || closed) throw sandboxError(error, what);
          config.log(`sandbox ${sandbox.sandboxId} of user ${userId} is gone; retrying ${what} on a new one`);
        }
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
      if (config.terminateOnClose) {
        await Promise.allSettled(sandboxes.map((sandbox) => sandbox.terminate()));
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
