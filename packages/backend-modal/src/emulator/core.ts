/**
 * The emulator's state: apps, volumes, secrets, images, sandboxes, and the tokens that tie them together.
 * Both gRPC services (control plane and command router) work on one instance of it.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, posix } from 'node:path';
import { ServerError, Status } from 'nice-grpc';
import { applyLayer, ImageBuildError, ImageBuilder, type BuiltImage, type ImageRecipe } from './images.js';
import type { NetworkPolicy } from './network.js';
import { EmulatedSandbox, sandboxDirFor, type SandboxResult } from './sandbox.js';
import { modalError, newId, newSandboxId, TokenSigner } from './util.js';
import { readVolumeMetas, VolumeLocks, VolumeView, writeVolumeMeta, type VolumeRecord, type VolumeVersion } from './volumes.js';

export const DEFAULT_ENVIRONMENT = 'main';
/** What EnvironmentGetOrCreate reports; the SDK passes it back verbatim on image builds. */
export const IMAGE_BUILDER_VERSION = '2025.06';

export interface AppRecord {
  readonly appId: string;
  readonly name: string;
  readonly environmentName: string;
}

export interface SecretRecord {
  readonly secretId: string;
  readonly name: string | undefined;
  readonly environmentName: string;
  env: Record<string, string>;
}

export interface CoreOptions {
  stateDir: string;
  bwrapPath: string;
  nsenterPath: string;
  extraReadOnlyBinds: readonly string[];
  /** Accepted control-plane credentials; any non-empty pair when undefined. */
  credentials: { tokenId: string; tokenSecret: string } | undefined;
  /** Where the command router is reached (`https://127.0.0.1:PORT`), set once the server listens. */
  routerUrl: string;
  /** Run sandboxes in a user namespace (needed when the emulator is not root). */
  userNamespace: boolean;
  /** The emulator's `sync` (see sync-channel.ts). */
  syncShim: string;
  /** Where built image trees are kept (shared by every emulator on this machine; see images.ts). */
  imageCacheDir: string | undefined;
  /** Modelled costs beyond the per-RPC delay: a new sandbox's first exec waits out its cold start; every exec its start. */
  latency: { coldStartMs: () => number; execMs: number };
}

/** An image as the control plane knows it: its recipe, and whether it built. */
export interface ImageRecord {
  readonly imageId: string;
  /** Undefined when the recipe itself was refused (then `failure` says why). */
  readonly recipe: ImageRecipe | undefined;
  failure: string | undefined;
}

export interface NewSandbox {
  appId: string;
  imageId: string;
  name: string | undefined;
  tags: Map<string, string>;
  command: string[];
  workdir: string | undefined;
  env: Record<string, string>;
  timeoutSecs: number;
  idleTimeoutSecs: number | undefined;
  mounts: { volumeId: string; mountPath: string; readOnly: boolean; subPath: string | undefined }[];
  network: NetworkPolicy;
}

/** Lifetime of control-plane auth tokens and router JWTs. The SDK refreshes both well before expiry. */
const TOKEN_TTL_SECONDS = 3600;

export class EmulatorCore {
  readonly tokens = new TokenSigner();
  readonly apps = new Map<string, AppRecord>();
  readonly volumes = new Map<string, VolumeRecord>();
  readonly volumeLocks = new VolumeLocks();
  readonly secrets = new Map<string, SecretRecord>();
  readonly images = new Map<string, ImageRecord>();
  /** Published image names (`<environment>/<name>:<tag>`) → image id. */
  readonly imageTags = new Map<string, string>();
  readonly imageBuilder: ImageBuilder;
  readonly sandboxes = new Map<string, EmulatedSandbox>();
  private readonly byTask = new Map<string, EmulatedSandbox>();
  private lastCreatedAt = 0;
  private closed = false;

  constructor(readonly options: CoreOptions) {
    this.imageBuilder = new ImageBuilder(options.imageCacheDir);
  }

  environment(name: string | undefined): string {
    return name || DEFAULT_ENVIRONMENT;
  }

  // ---- auth ------------------------------------------------------------------------------------------------

  checkCredentials(tokenId: string | undefined, tokenSecret: string | undefined): void {
    const expected = this.options.credentials;
    const ok = expected ? tokenId === expected.tokenId && tokenSecret === expected.tokenSecret : Boolean(tokenId) && Boolean(tokenSecret);
    if (!ok) throw new ServerError(Status.UNAUTHENTICATED, 'Invalid Modal token id or secret');
  }

  issueAuthToken(tokenId: string): string {
    return this.tokens.sign({ kind: 'auth', sub: tokenId }, TOKEN_TTL_SECONDS);
  }

  checkAuthToken(token: string | undefined): void {
    const claims = token ? this.tokens.verify(token) : undefined;
    if (claims === 'expired') throw new ServerError(Status.UNAUTHENTICATED, 'Auth token expired');
    if (!claims || claims['kind'] !== 'auth') throw new ServerError(Status.UNAUTHENTICATED, 'Missing or invalid auth token');
  }

  routerAccess(sandbox: EmulatedSandbox): { url: string; jwt: string } {
    const jwt = this.tokens.sign({ kind: 'router', sandbox_id: sandbox.id, task_id: sandbox.spec.taskId }, TOKEN_TTL_SECONDS);
    return { url: this.options.routerUrl, jwt };
  }

  /** The sandbox a router JWT was minted for; UNAUTHENTICATED makes the SDK fetch a fresh one and retry. */
  sandboxForRouterToken(authorization: string | undefined, taskId: string): EmulatedSandbox {
    const token = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined;
    const claims = token ? this.tokens.verify(token) : undefined;
    if (claims === 'expired') throw new ServerError(Status.UNAUTHENTICATED, 'Command router token expired');
    if (!claims || claims['kind'] !== 'router') {
      throw new ServerError(Status.UNAUTHENTICATED, 'Missing or invalid command router token');
    }
    if (claims['task_id'] !== taskId) {
      throw new ServerError(Status.PERMISSION_DENIED, `Token is not valid for task ${taskId}`);
    }
    const sandbox = this.byTask.get(taskId);
    if (!sandbox) throw modalError(Status.NOT_FOUND, `Task ${taskId} not found`, `Unknown task ${taskId}`, 'task does not exist');
    return sandbox;
  }

  // ---- named objects --------------------------------------------------------------------------------------

  findApp(environmentName: string, name: string): AppRecord | undefined {
    for (const app of this.apps.values()) {
      if (app.environmentName === environmentName && app.name === name) return app;
    }
    return undefined;
  }

  createApp(environmentName: string, name: string): AppRecord {
    const app: AppRecord = { appId: newId('ap'), name, environmentName };
    this.apps.set(app.appId, app);
    return app;
  }

  findVolume(environmentName: string, name: string): VolumeRecord | undefined {
    for (const volume of this.volumes.values()) {
      if (volume.environmentName === environmentName && volume.name === name) return volume;
    }
    return undefined;
  }

  /**
   * Named volumes keep their committed state in `<stateDir>/volumes/<environment>/<volumeId>/`, described by
   * `<volumeId>.volume.json` (name, version, creation time), so a restarted emulator on the same state dir finds
   * them again, and a rename keeps the data where it is.
   */
  async loadVolumes(): Promise<void> {
    const root = join(this.options.stateDir, 'volumes');
    const environments = await readdir(root).catch(() => [] as string[]);
    for (const environmentName of environments) {
      if (environmentName === '_ephemeral') continue;
      for (const meta of await readVolumeMetas(join(root, environmentName))) {
        this.volumes.set(meta.volumeId, {
          volumeId: meta.volumeId,
          name: meta.name,
          environmentName,
          hostPath: join(root, environmentName, meta.volumeId),
          version: meta.version,
          createdAt: meta.createdAt,
        });
        this.lastCreatedAt = Math.max(this.lastCreatedAt, meta.createdAt);
      }
    }
  }

  /** `version` as the SDK sends it: 0 (unspecified) makes a v1 volume, as on Modal. */
  async createVolume(environmentName: string, name: string | undefined, version: number): Promise<VolumeRecord> {
    const volumeId = newId('vo');
    const dir = name ? join(this.options.stateDir, 'volumes', environmentName) : join(this.options.stateDir, 'volumes', '_ephemeral');
    const volume: VolumeRecord = {
      volumeId,
      name,
      environmentName,
      hostPath: join(dir, volumeId),
      version: (version === 2 ? 2 : 1) as VolumeVersion,
      createdAt: this.nextCreatedAt(),
    };
    if (name) await writeVolumeMeta(join(dir, `${volumeId}.volume.json`), { volumeId, name, version: volume.version, createdAt: volume.createdAt });
    this.volumes.set(volumeId, volume);
    return volume;
  }

  async renameVolume(volumeId: string, name: string): Promise<void> {
    const volume = this.volumes.get(volumeId);
    if (!volume?.name) throw new ServerError(Status.NOT_FOUND, `Volume ${volumeId} not found`);
    if (this.findVolume(volume.environmentName, name)) throw new ServerError(Status.ALREADY_EXISTS, `Volume '${name}' already exists`);
    volume.name = name;
    const dir = join(this.options.stateDir, 'volumes', volume.environmentName);
    await writeVolumeMeta(join(dir, `${volumeId}.volume.json`), { volumeId, name, version: volume.version, createdAt: volume.createdAt });
  }

  async deleteVolume(volumeId: string): Promise<void> {
    const volume = this.volumes.get(volumeId);
    if (!volume) throw new ServerError(Status.NOT_FOUND, `Volume ${volumeId} not found`);
    this.volumes.delete(volumeId);
    const dir = join(this.options.stateDir, 'volumes', volume.environmentName);
    await rm(join(dir, `${volumeId}.volume.json`), { force: true });
    await this.volumeLocks.run(volumeId, () => rm(volume.hostPath, { recursive: true, force: true }));
  }

  // ---- images -------------------------------------------------------------------------------------------------

  /**
   * One layer (`FROM <tag>` or `FROM base` + commands) → its image, built from the recipe (images.ts). A recipe the
   * emulator cannot build is recorded as a failed build, as Modal records a failed `ImageGetOrCreate`.
   */
  async buildImage(imageId: string, parentId: string | undefined, commands: readonly string[]): Promise<ImageRecord> {
    const existing = this.images.get(imageId);
    if (existing) return existing;
    const parent = parentId ? this.images.get(parentId) : undefined;
    if (parentId && !parent?.recipe) throw modalError(Status.NOT_FOUND, `Image ${parentId} not found`, `No image ${parentId}`, 'base image does not exist');
    let recipe: ImageRecipe | undefined;
    let failure: string | undefined;
    try {
      recipe = applyLayer(parent?.recipe, commands);
      await this.imageBuilder.build(recipe);
    } catch (error) {
      if (!(error instanceof ImageBuildError)) throw error;
      failure = error.message;
    }
    const record: ImageRecord = { imageId, recipe, failure };
    this.images.set(imageId, record);
    await writeJson(join(this.options.stateDir, 'images', `${imageId}.json`), record);
    return record;
  }

  /** The tree a sandbox of this image runs on (built again from the cache if this emulator restarted). */
  async imageTree(imageId: string): Promise<BuiltImage> {
    const record = this.images.get(imageId);
    if (!record) throw modalError(Status.NOT_FOUND, `Image ${imageId} not found`, `Could not find image with ID ${imageId}`, 'unknown image');
    if (!record.recipe || record.failure)
      throw modalError(Status.FAILED_PRECONDITION, `Image ${imageId} failed to build: ${record.failure}`, `image ${imageId} is not usable (build failed)`);
    return this.imageBuilder.build(record.recipe);
  }

  async publishImage(environmentName: string, tag: string, imageId: string): Promise<void> {
    await this.imageTree(imageId);
    this.imageTags.set(`${environmentName}/${tag}`, imageId);
    await writeJson(join(this.options.stateDir, 'images', 'tags.json'), Object.fromEntries(this.imageTags));
  }

  async loadImages(): Promise<void> {
    const dir = join(this.options.stateDir, 'images');
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue;
      const value = JSON.parse(await readFile(join(dir, name), 'utf8')) as ImageRecord | Record<string, string>;
      if (name === 'tags.json') for (const [key, id] of Object.entries(value as Record<string, string>)) this.imageTags.set(key, id);
      else this.images.set((value as ImageRecord).imageId, value as ImageRecord);
    }
  }

  findSecret(environmentName: string, name: string): SecretRecord | undefined {
    for (const secret of this.secrets.values()) {
      if (secret.environmentName === environmentName && secret.name === name) return secret;
    }
    return undefined;
  }

  putSecret(environmentName: string, name: string | undefined, env: Record<string, string>): SecretRecord {
    const existing = name ? this.findSecret(environmentName, name) : undefined;
    if (existing) {
      existing.env = { ...env };
      return existing;
    }
    const secret: SecretRecord = { secretId: newId('st'), name, environmentName, env: { ...env } };
    this.secrets.set(secret.secretId, secret);
    return secret;
  }

  secretEnv(secretId: string): Record<string, string> {
    const secret = this.secrets.get(secretId);
    if (!secret) throw new ServerError(Status.NOT_FOUND, `Secret ${secretId} not found`);
    return secret.env;
  }

  // ---- sandboxes ------------------------------------------------------------------------------------------

  async createSandbox(request: NewSandbox): Promise<EmulatedSandbox> {
    if (this.closed) throw modalError(Status.UNAVAILABLE, 'The Modal emulator is shutting down', 'service unavailable', 'try again later');
    // Before the name check: from here to registration nothing awaits, so two creates cannot both take a name.
    const image = await this.imageTree(request.imageId);
    const app = this.apps.get(request.appId);
    if (!app) throw new ServerError(Status.NOT_FOUND, `App ${request.appId} not found`);
    if (request.name !== undefined && this.liveSandboxNamed(app.appId, request.name)) {
      throw modalError(
        Status.ALREADY_EXISTS,
        `Sandbox with name '${request.name}' already exists in app '${app.name}'`,
        `A running sandbox is already named ${request.name}`,
        'name is taken',
      );
    }
    const sandboxId = newSandboxId();
    const sandboxDir = sandboxDirFor(this.options.stateDir, sandboxId);
    const views = request.mounts.map((mount, index) => {
      const volume = this.volumes.get(mount.volumeId);
      if (!volume) throw new ServerError(Status.NOT_FOUND, `Volume ${mount.volumeId} not found`);
      const mountPath = posix.normalize(mount.mountPath);
      if (!mountPath.startsWith('/') || mountPath === '/' || /^\/(proc|dev|sys|__modal)(\/|$)/.test(mountPath)) {
        throw new ServerError(Status.INVALID_ARGUMENT, `Invalid volume mount path: ${mount.mountPath}`);
      }
      const subPath = mount.subPath ? posix.normalize(`/${mount.subPath}`).slice(1) : '';
      return new VolumeView(
        volume,
        mountPath,
        subPath,
        mount.readOnly,
        join(sandboxDir, 'volumes', String(index)),
        join(this.options.stateDir, 'staging'),
        this.volumeLocks,
      );
    });
    const workdir = request.workdir ? posix.normalize(request.workdir) : '/';
    const taskId = newId('ta');
    const createdAt = this.nextCreatedAt();
    const sandbox = new EmulatedSandbox(
      {
        sandboxId,
        taskId,
        appId: app.appId,
        environmentName: app.environmentName,
        name: request.name,
        tags: request.tags,
        imageId: request.imageId,
        command: request.command,
        workdir,
        env: {
          PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          HOME: '/root',
          LANG: 'C.UTF-8',
          MODAL_ENVIRONMENT: app.environmentName,
          MODAL_SANDBOX_ID: sandboxId,
          MODAL_TASK_ID: taskId,
          ...image.env,
          ...request.env,
        },
        image: image.root,
        timeoutSecs: request.timeoutSecs,
        idleTimeoutSecs: request.idleTimeoutSecs,
        volumes: views,
        network: request.network,
      },
      {
        bwrapPath: this.options.bwrapPath,
        nsenterPath: this.options.nsenterPath,
        sandboxDir,
        extraReadOnlyBinds: this.options.extraReadOnlyBinds,
        syncShim: this.options.syncShim,
        userNamespace: this.options.userNamespace,
      },
      createdAt,
    );
    sandbox.readyAt = Date.now() + this.options.latency.coldStartMs();
    // Registered before it starts, so the name is taken while bwrap comes up.
    this.sandboxes.set(sandboxId, sandbox);
    this.byTask.set(taskId, sandbox);
    try {
      await sandbox.start();
    } catch (error) {
      sandbox.finish({ status: 5, exitcode: 0, exception: error instanceof Error ? error.message : String(error) }, { commit: false });
      this.sandboxes.delete(sandboxId);
      this.byTask.delete(taskId);
      throw new ServerError(Status.FAILED_PRECONDITION, `Modal emulator: ${(error as Error).message}`);
    }
    return sandbox;
  }

  sandbox(sandboxId: string): EmulatedSandbox {
    const sandbox = this.sandboxes.get(sandboxId);
    if (!sandbox) throw modalError(Status.NOT_FOUND, `Sandbox ${sandboxId} not found`, `No sandbox with id ${sandboxId}`, 'object does not exist');
    return sandbox;
  }

  liveSandboxNamed(appId: string, name: string): EmulatedSandbox | undefined {
    for (const sandbox of this.sandboxes.values()) {
      if (sandbox.spec.appId === appId && sandbox.spec.name === name && sandbox.result === undefined) return sandbox;
    }
    return undefined;
  }

  latestSandboxNamed(appId: string, name: string): EmulatedSandbox | undefined {
    let latest: EmulatedSandbox | undefined;
    for (const sandbox of this.sandboxes.values()) {
      if (sandbox.spec.appId !== appId || sandbox.spec.name !== name) continue;
      if (!latest || sandbox.createdAt > latest.createdAt) latest = sandbox;
    }
    return latest;
  }

  /** Terminates every sandbox and waits (briefly) for them to be gone. */
  async shutdown(): Promise<void> {
    this.closed = true;
    const all = [...this.sandboxes.values()];
    for (const sandbox of all) sandbox.terminate();
    await Promise.all(all.map((sandbox) => sandbox.settled()));
  }

  /** createdAt doubles as the list cursor (`beforeTimestamp`), so no two sandboxes may share one. */
  private nextCreatedAt(): number {
    const now = Date.now() / 1000;
    this.lastCreatedAt = now > this.lastCreatedAt ? now : this.lastCreatedAt + 0.000001;
    return this.lastCreatedAt;
  }
}

export type { SandboxResult };

async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, JSON.stringify(value));
  await rename(temp, file);
}
