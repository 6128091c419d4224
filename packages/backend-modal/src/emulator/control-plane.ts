/**
 * `modal.client.ModalClient`: the control-plane RPCs the JS SDK makes for apps, images, volumes, secrets and
 * V2 sandboxes. Messages arrive decoded by the SDK's own codecs (see definitions.ts), so the request shapes below
 * are those codecs' field names; responses are partial objects that the codecs complete with defaults.
 */
import { ServerError, Status, type CallContext } from 'nice-grpc';
import { createHash } from 'node:crypto';
import { IMAGE_BUILDER_VERSION, type EmulatorCore, type ImageRecord } from './core.js';
import type { EmulatedSandbox, SandboxResult } from './sandbox.js';
import { parseCidr, type NetworkPolicy } from './network.js';
import { modalError, newId, stableId, within } from './util.js';

/** OBJECT_CREATION_TYPE_* */
const Creation = {
  UNSPECIFIED: 0,
  CREATE_IF_MISSING: 1,
  CREATE_FAIL_IF_EXISTS: 2,
  CREATE_OVERWRITE_IF_EXISTS: 3,
  ANONYMOUS_OWNED_BY_APP: 4,
  EPHEMERAL: 5,
} as const;

/** NetworkAccess.NetworkAccessType */
const NetworkAccessType = { OPEN: 1, BLOCKED: 2, ALLOWLIST: 3 } as const;
/** Longest a SandboxWaitV2 long-poll is held (the SDK asks for 10 s). */
const MAX_WAIT_SECONDS = 55;
/** Page size of SandboxListV2; the SDK pages with `beforeTimestamp`. */
const LIST_PAGE_SIZE = 100;

interface Tag {
  tagName: string;
  tagValue: string;
}
interface SecretSource {
  secretId?: string;
  env?: { contents: Record<string, string> };
}
interface SandboxDefinition {
  entrypointArgs: string[];
  imageId: string;
  secretIds: string[];
  timeoutSecs: number;
  idleTimeoutSecs?: number;
  workdir?: string;
  name?: string;
  blockNetwork: boolean;
  networkAccess?: { networkAccessType: number; allowedCidrs: string[]; allowedDomains: string[] };
  volumeMounts: { volumeId: string; mountPath: string; readOnly: boolean; subPath?: string }[];
  environmentVariables?: { contents: Record<string, string> };
}

type Handler = (request: never, context: CallContext) => unknown;

export function controlPlaneService(core: EmulatorCore): Record<string, Handler> {
  const authed = <Req, Res>(fn: (request: Req, context: CallContext) => Promise<Res>) => {
    return async (request: Req, context: CallContext): Promise<Res> => {
      core.checkAuthToken(metadataString(context, 'x-modal-auth-token'));
      return fn(request, context);
    };
  };

  return {
    async authTokenGet(_request: object, context: CallContext) {
      const tokenId = metadataString(context, 'x-modal-token-id');
      core.checkCredentials(tokenId, metadataString(context, 'x-modal-token-secret'));
      return { token: core.issueAuthToken(tokenId ?? '') };
    },

    environmentGetOrCreate: authed(async (request: { deploymentName: string }) => {
      const name = core.environment(request.deploymentName);
      return {
        environmentId: stableId('en', name),
        metadata: { name, settings: { imageBuilderVersion: IMAGE_BUILDER_VERSION, webhookSuffix: 'modal.run' } },
      };
    }),

    appGetOrCreate: authed(async (request: { appName: string; environmentName: string; objectCreationType: number }) => {
      const environmentName = core.environment(request.environmentName);
      let app = core.findApp(environmentName, request.appName);
      if (!app) {
        if (request.objectCreationType !== Creation.CREATE_IF_MISSING) {
          throw new ServerError(Status.NOT_FOUND, `App '${request.appName}' not found`);
        }
        app = core.createApp(environmentName, request.appName);
      }
      return { appId: app.appId };
    }),

    // Built from the recipe (images.ts); a recipe the emulator cannot build is a failed build, as on Modal.
    imageGetOrCreate: authed(async (request: { appId: string; image?: { dockerfileCommands: string[]; baseImages: { imageId: string }[] } }) => {
      const commands = request.image?.dockerfileCommands ?? [];
      const parentId = request.image?.baseImages[0]?.imageId;
      const key = JSON.stringify([commands, parentId ?? '']);
      const imageId = stableId('im', createHash('sha256').update(key).digest('hex'));
      const record = await core.buildImage(imageId, parentId, commands);
      return { imageId, result: buildResult(record) };
    }),

    async *imageJoinStreaming(request: { imageId: string }, context: CallContext) {
      core.checkAuthToken(metadataString(context, 'x-modal-auth-token'));
      const record = core.images.get(request.imageId);
      if (!record) throw modalError(Status.NOT_FOUND, `Image ${request.imageId} not found`, `No image ${request.imageId}`);
      yield { result: buildResult(record), entryId: '1', eof: true };
    },

    imageFromId: authed(async (request: { imageId: string }) => {
      if (!core.images.has(request.imageId)) {
        throw new ServerError(Status.NOT_FOUND, `Could not find image with ID ${request.imageId}`);
      }
      return { imageId: request.imageId };
    }),

    // Named images: `Image.publish(name)` and `images.fromName(name)` (the name arrives as "name:tag").
    imagePublish: authed(async (request: { imageId: string; tag: string; environmentName: string }) => {
      await core.publishImage(core.environment(request.environmentName), request.tag, request.imageId);
      return { imageId: request.imageId, revisionId: newId('ir') };
    }),

    imageGetByTag: authed(async (request: { tag: string; environmentName: string }) => {
      const imageId = core.imageTags.get(`${core.environment(request.environmentName)}/${request.tag}`);
      if (!imageId) throw modalError(Status.NOT_FOUND, `Image '${request.tag}' not found`, `No image published as ${request.tag}`, 'unknown image name');
      return { imageId };
    }),

    volumeGetOrCreate: authed(async (request: { deploymentName: string; environmentName: string; objectCreationType: number; version: number }) => {
      const environmentName = core.environment(request.environmentName);
      if (request.objectCreationType === Creation.EPHEMERAL) {
        const volume = await core.createVolume(environmentName, undefined, request.version);
        return { volumeId: volume.volumeId, version: volume.version, metadata: { version: volume.version } };
      }
      let volume = core.findVolume(environmentName, request.deploymentName);
      if (volume && request.objectCreationType === Creation.CREATE_FAIL_IF_EXISTS) {
        throw new ServerError(Status.ALREADY_EXISTS, `Volume '${request.deploymentName}' already exists`);
      }
      if (!volume) {
        const creates = [Creation.CREATE_IF_MISSING, Creation.CREATE_FAIL_IF_EXISTS, Creation.CREATE_OVERWRITE_IF_EXISTS];
        if (!creates.includes(request.objectCreationType as 1 | 2 | 3)) {
          throw modalError(Status.NOT_FOUND, `Volume '${request.deploymentName}' not found`, `No volume named ${request.deploymentName}`, 'object not found');
        }
        volume = await core.createVolume(environmentName, request.deploymentName, request.version);
      }
      return {
        volumeId: volume.volumeId,
        version: volume.version,
        metadata: { version: volume.version, name: volume.name ?? '' },
      };
    }),

    volumeHeartbeat: authed(async () => ({})),

    volumeDelete: authed(async (request: { volumeId: string }) => {
      await core.deleteVolume(request.volumeId);
      return {};
    }),

    volumeRename: authed(async (request: { volumeId: string; name: string }) => {
      await core.renameVolume(request.volumeId, request.name);
      return {};
    }),

    // Named volumes of an environment, newest first, paged like Modal's list RPCs (maxObjects, createdBefore). Only
    // the current fields are filled (metadata.name, metadata.creationInfo.createdAt): `label` and `createdAt` on the
    // item are superseded, and a client paging on them would never advance.
    volumeList: authed(async (request: { environmentName: string; pagination?: { maxObjects: number; createdBefore: number } }) => {
      const environmentName = core.environment(request.environmentName);
      const max = Math.min(request.pagination?.maxObjects || LIST_PAGE_SIZE, LIST_PAGE_SIZE);
      const before = request.pagination?.createdBefore || Number.POSITIVE_INFINITY;
      const items = [...core.volumes.values()]
        .filter((v) => v.environmentName === environmentName && v.name !== undefined && v.createdAt < before)
        .sort((a, b) => b.createdAt - a.createdAt)
        .slice(0, max)
        .map((v) => ({
          volumeId: v.volumeId,
          metadata: { name: v.name!, version: v.version, creationInfo: { createdAt: v.createdAt, createdBy: 'emulator' } },
        }));
      return { items, environmentName };
    }),

    secretGetOrCreate: authed(
      async (request: {
        deploymentName: string;
        environmentName: string;
        objectCreationType: number;
        envDict: Record<string, string>;
        requiredKeys: string[];
      }) => {
        const environmentName = core.environment(request.environmentName);
        const type = request.objectCreationType;
        if (type === Creation.EPHEMERAL || type === Creation.ANONYMOUS_OWNED_BY_APP) {
          return { secretId: core.putSecret(environmentName, undefined, request.envDict).secretId };
        }
        const existing = core.findSecret(environmentName, request.deploymentName);
        if (type === Creation.UNSPECIFIED) {
          if (!existing) throw new ServerError(Status.NOT_FOUND, `Secret '${request.deploymentName}' not found`);
          const missing = request.requiredKeys.filter((key) => !Object.hasOwn(existing.env, key));
          if (missing.length > 0) {
            throw new ServerError(Status.FAILED_PRECONDITION, `Secret is missing key(s): ${missing.join(', ')}`);
          }
          return { secretId: existing.secretId };
        }
        if (existing && type === Creation.CREATE_FAIL_IF_EXISTS) {
          throw new ServerError(Status.ALREADY_EXISTS, `Secret '${request.deploymentName}' already exists`);
        }
        if (existing && type === Creation.CREATE_IF_MISSING) return { secretId: existing.secretId };
        return { secretId: core.putSecret(environmentName, request.deploymentName, request.envDict).secretId };
      },
    ),

    sandboxCreateV2: authed(async (request: { appId: string; definition?: SandboxDefinition; secretSources: SecretSource[]; tags: Tag[] }) => {
      const definition = request.definition;
      if (!definition) throw new ServerError(Status.INVALID_ARGUMENT, 'Sandbox definition is required');
      // Later sources win: named secrets, then the request's own sources (fromObject secrets, then `env`).
      const env: Record<string, string> = { ...definition.environmentVariables?.contents };
      for (const secretId of definition.secretIds) Object.assign(env, core.secretEnv(secretId));
      Object.assign(env, resolveSecretSources(core, request.secretSources));
      const sandbox = await core.createSandbox({
        appId: request.appId,
        imageId: definition.imageId,
        name: definition.name || undefined,
        tags: new Map(request.tags.map((tag) => [tag.tagName, tag.tagValue])),
        command: definition.entrypointArgs,
        workdir: definition.workdir,
        env,
        timeoutSecs: definition.timeoutSecs,
        idleTimeoutSecs: definition.idleTimeoutSecs,
        mounts: definition.volumeMounts.map((mount) => ({
          volumeId: mount.volumeId,
          mountPath: mount.mountPath,
          readOnly: mount.readOnly,
          subPath: mount.subPath,
        })),
        network: networkPolicy(definition),
      });
      return {
        sandboxId: sandbox.id,
        taskId: sandbox.spec.taskId,
        commandRouterAccess: core.routerAccess(sandbox),
        metadata: handleMetadata(sandbox),
      };
    }),

    sandboxGetTaskIdV2: authed(async (request: { sandboxId: string }) => {
      const sandbox = core.sandbox(request.sandboxId);
      const result = sandbox.result;
      // A finished sandbox has no task to talk to; the SDK turns taskResult into a ConflictError.
      return result ? { taskResult: resultProto(result) } : { taskId: sandbox.spec.taskId };
    }),

    sandboxGetCommandRouterAccess: authed(async (request: { sandboxId: string }) => {
      return core.routerAccess(core.sandbox(request.sandboxId));
    }),

    sandboxWaitV2: authed(async (request: { sandboxId: string; timeout: number }, context: CallContext) => {
      const sandbox = core.sandbox(request.sandboxId);
      const seconds = Math.min(Math.max(0, request.timeout || 0), MAX_WAIT_SECONDS);
      const result = sandbox.result ?? (await within(sandbox.done, seconds * 1000, context.signal));
      const metadata = handleMetadata(sandbox);
      return result ? { result: resultProto(result), metadata } : { metadata };
    }),

    sandboxTerminateV2: authed(async (request: { sandboxId: string }) => {
      core.sandbox(request.sandboxId).terminate();
      return {};
    }),

    sandboxTagsSetV2: authed(async (request: { sandboxId: string; tags: Tag[] }) => {
      const sandbox = core.sandbox(request.sandboxId);
      sandbox.spec.tags.clear();
      for (const tag of request.tags) sandbox.spec.tags.set(tag.tagName, tag.tagValue);
      return {};
    }),

    sandboxTagsGetV2: authed(async (request: { sandboxId: string }) => {
      return { tags: tagList(core.sandbox(request.sandboxId)) };
    }),

    sandboxGetFromNameV2: authed(async (request: { sandboxName: string; appName: string; environmentName: string; includeTerminated: boolean }) =>
      sandboxFromName(core, request),
    ),

    // `sandboxes.fromName` falls back to the V1 lookup when the V2 one says NOT_FOUND; V1 sandboxes do not exist here.
    sandboxGetFromName: authed(async (request: { sandboxName: string; appName: string; environmentName: string }) =>
      sandboxFromName(core, { ...request, includeTerminated: false }),
    ),

    sandboxListV2: authed(async (request: { appId: string; environmentName: string; beforeTimestamp: number; includeFinished: boolean; tags: Tag[] }) => {
      const environmentName = core.environment(request.environmentName);
      const sandboxes = [...core.sandboxes.values()]
        .filter((sandbox) => (request.appId ? sandbox.spec.appId === request.appId : sandbox.spec.environmentName === environmentName))
        .filter((sandbox) => request.includeFinished || sandbox.result === undefined)
        .filter((sandbox) => !request.beforeTimestamp || sandbox.createdAt < request.beforeTimestamp)
        .filter((sandbox) => request.tags.every((tag) => sandbox.spec.tags.get(tag.tagName) === tag.tagValue))
        .sort((a, b) => b.createdAt - a.createdAt)
        .slice(0, LIST_PAGE_SIZE);
      return { sandboxes: sandboxes.map(sandboxInfo) };
    }),
  };
}

/** The sandbox's outbound network from its definition (the SDK always sends `networkAccess`). */
function networkPolicy(definition: SandboxDefinition): NetworkPolicy {
  const access = definition.networkAccess;
  if (definition.blockNetwork || access?.networkAccessType === NetworkAccessType.BLOCKED) return { kind: 'blocked' };
  if (access?.networkAccessType !== NetworkAccessType.ALLOWLIST) return { kind: 'open' };
  if (access.allowedDomains.length > 0) {
    throw new ServerError(Status.UNIMPLEMENTED, 'outbound domain allowlists are not emulated (use CIDRs); the emulator will not pretend to enforce them');
  }
  try {
    return { kind: 'allowlist', cidrs: access.allowedCidrs.map(parseCidr) };
  } catch (error) {
    throw modalError(Status.INVALID_ARGUMENT, `Invalid outbound CIDR allowlist: ${(error as Error).message}`, `bad CIDR (${(error as Error).message})`);
  }
}

/** GenericResult of a build: success, or failure with the reason (the SDK puts it in its error). */
function buildResult(record: ImageRecord): { status: number; exception?: string } {
  return record.failure ? { status: 2, exception: `Modal emulator image build failed: ${record.failure}` } : { status: 1 };
}

function sandboxFromName(
  core: EmulatorCore,
  request: { sandboxName: string; appName: string; environmentName: string; includeTerminated: boolean },
): { sandboxId: string; metadata: object } {
  const app = core.findApp(core.environment(request.environmentName), request.appName);
  const sandbox = app
    ? (core.liveSandboxNamed(app.appId, request.sandboxName) ??
      (request.includeTerminated ? core.latestSandboxNamed(app.appId, request.sandboxName) : undefined))
    : undefined;
  if (!sandbox) {
    throw modalError(
      Status.NOT_FOUND,
      `Sandbox with name '${request.sandboxName}' not found in App '${request.appName}'`,
      `No running sandbox named ${request.sandboxName}`,
      'lookup found nothing',
    );
  }
  return { sandboxId: sandbox.id, metadata: handleMetadata(sandbox) };
}

/** Env from secret sources, in order: a secret id contributes its values, an inline map its contents. */
export function resolveSecretSources(core: EmulatorCore, sources: readonly SecretSource[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of sources) {
    if (source.secretId) Object.assign(env, core.secretEnv(source.secretId));
    if (source.env) Object.assign(env, source.env.contents);
  }
  return env;
}

export function metadataString(context: CallContext, key: string): string | undefined {
  const value = context.metadata.get(key);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function resultProto(result: SandboxResult): SandboxResult {
  return { status: result.status, exitcode: result.exitcode, exception: result.exception };
}

function handleMetadata(sandbox: EmulatedSandbox): { appId: string; result?: SandboxResult } {
  return sandbox.result ? { appId: sandbox.spec.appId, result: resultProto(sandbox.result) } : { appId: sandbox.spec.appId };
}

function tagList(sandbox: EmulatedSandbox): Tag[] {
  return [...sandbox.spec.tags].map(([tagName, tagValue]) => ({ tagName, tagValue }));
}

function sandboxInfo(sandbox: EmulatedSandbox): object {
  return {
    id: sandbox.id,
    createdAt: sandbox.createdAt,
    appId: sandbox.spec.appId,
    tags: tagList(sandbox),
    name: sandbox.spec.name ?? '',
    imageId: sandbox.spec.imageId,
    timeoutSecs: sandbox.spec.timeoutSecs,
    idleTimeoutSecs: sandbox.spec.idleTimeoutSecs,
    taskInfo: {
      id: sandbox.spec.taskId,
      sandboxId: sandbox.id,
      startedAt: sandbox.createdAt,
      ...(sandbox.result ? { result: resultProto(sandbox.result) } : {}),
    },
    metadata: handleMetadata(sandbox),
  };
}
