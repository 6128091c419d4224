/**
 * The gRPC service definitions the emulator serves, taken from the installed `modal` SDK itself.
 *
 * Why not hand-written `.proto` files: the SDK speaks Modal's private API ("not a public API and can change
 * without warning"), and `api.proto` has hundreds of messages whose field numbers would have to be copied by hand.
 * A wrong tag number fails silently (the field just reads as its default). The SDK's bundle already contains the
 * ts-proto generated codecs it encodes its own requests with, so the emulator decodes with exactly those: for the
 * pinned SDK the wire format cannot disagree.
 *
 * How: the codecs (`ModalClientDefinition`, `TaskCommandRouterDefinition`) are module-level variables of
 * `modal/dist/index.cjs` and are not exported. We compile that file a second time with `vm.compileFunction`, with
 * one line appended that hands those two variables out, and give it a `require` rooted at its own location so it
 * loads the same `nice-grpc`, `@bufbuild/protobuf` wire helpers etc. This is a separate module instance (the one the
 * application imports is untouched; nothing in the SDK is patched) and its only side effect on load is reading the
 * Modal config file, which it tolerates being absent.
 *
 * Robustness: the result is checked (the services' full names and every method the emulator implements must be
 * present) and a mismatch fails loudly at start with the SDK version found, instead of serving a half-broken
 * protocol. The SDK version is pinned exactly in package.json, so a mismatch means someone bumped it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { compileFunction } from 'node:vm';
import type { TsProtoServiceDefinition } from 'nice-grpc';

/** The SDK version these definitions were written against (the control plane and router RPCs below). */
export const EXPECTED_SDK_VERSION = '0.11.1';

export interface ModalDefinitions {
  readonly modalClient: TsProtoServiceDefinition;
  readonly taskCommandRouter: TsProtoServiceDefinition;
  /** `SDK_VERSION` from inside the bundle that was loaded. */
  readonly sdkVersion: string;
  /** The file the definitions came from. */
  readonly source: string;
}

/** Methods the emulator implements; their absence means the SDK changed shape under us. */
export const REQUIRED_CONTROL_PLANE_METHODS = [
  'authTokenGet',
  'appGetOrCreate',
  'environmentGetOrCreate',
  'imageGetOrCreate',
  'imageJoinStreaming',
  'imagePublish',
  'imageGetByTag',
  'volumeDelete',
  'volumeRename',
  'volumeList',
  'volumeGetOrCreate',
  'secretGetOrCreate',
  'sandboxCreateV2',
  'sandboxGetTaskIdV2',
  'sandboxGetCommandRouterAccess',
  'sandboxWaitV2',
  'sandboxTerminateV2',
  'sandboxTagsSetV2',
  'sandboxTagsGetV2',
  'sandboxListV2',
  'sandboxGetFromNameV2',
  'sandboxGetFromName',
] as const;

export const REQUIRED_ROUTER_METHODS = [
  'taskExecStart',
  'taskExecStdioRead',
  'taskExecWait',
  'taskExecPoll',
  'taskExecStdinWrite',
  'taskExecStdinWriteStream',
  'taskExecStdinStatus',
  'sandboxStdioReadV2',
  'sandboxStdinWriteV2',
] as const;

const cache = new Map<string, ModalDefinitions>();

/**
 * Loads (once per file) the SDK's bundled service definitions.
 * @param resolveFrom a file or directory from which `modal` is resolved; defaults to this package, so the emulator
 *   speaks the protocol of the very SDK the Modal backend uses.
 */
export function loadModalDefinitions(resolveFrom: string = import.meta.url): ModalDefinitions {
  const req = createRequire(resolveFrom);
  let file: string;
  try {
    // The `require` condition of modal's exports map points at dist/index.cjs.
    file = req.resolve('modal');
  } catch (cause) {
    throw new Error('Modal emulator: cannot resolve the `modal` SDK (is modal@0.11.1 installed?)', { cause });
  }
  const hit = cache.get(file);
  if (hit) return hit;

  const source = readFileSync(file, 'utf8');
  const epilogue =
    '\n;module.exports.__dreamcoreEmulator = {' +
    ' modalClient: typeof ModalClientDefinition === "undefined" ? undefined : ModalClientDefinition,' +
    ' taskCommandRouter: typeof TaskCommandRouterDefinition === "undefined" ? undefined : TaskCommandRouterDefinition,' +
    ' sdkVersion: typeof SDK_VERSION === "undefined" ? undefined : SDK_VERSION };\n';
  const wrapper = compileFunction(source + epilogue, ['exports', 'require', 'module', '__filename', '__dirname'], {
    filename: file,
  });
  const mod: { exports: Record<string, unknown> } = { exports: {} };
  wrapper.call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
  const found = mod.exports['__dreamcoreEmulator'] as
    { modalClient?: TsProtoServiceDefinition; taskCommandRouter?: TsProtoServiceDefinition; sdkVersion?: string } | undefined;

  const version = found?.sdkVersion ?? readPackageVersion(file);
  const problems: string[] = [];
  if (found?.modalClient?.fullName !== 'modal.client.ModalClient') problems.push('ModalClientDefinition not found');
  if (found?.taskCommandRouter?.fullName !== 'modal.task_command_router.TaskCommandRouter') {
    problems.push('TaskCommandRouterDefinition not found');
  }
  for (const m of REQUIRED_CONTROL_PLANE_METHODS) {
    if (found?.modalClient && !Object.hasOwn(found.modalClient.methods, m)) problems.push(`ModalClient.${m} missing`);
  }
  for (const m of REQUIRED_ROUTER_METHODS) {
    if (found?.taskCommandRouter && !Object.hasOwn(found.taskCommandRouter.methods, m)) {
      problems.push(`TaskCommandRouter.${m} missing`);
    }
  }
  if (problems.length > 0 || !found?.modalClient || !found.taskCommandRouter) {
    throw new Error(
      `Modal emulator: the installed modal SDK (${version}, ${file}) does not have the expected gRPC definitions ` +
        `(written for ${EXPECTED_SDK_VERSION}): ${problems.join('; ')}`,
    );
  }
  const defs: ModalDefinitions = {
    modalClient: found.modalClient,
    taskCommandRouter: found.taskCommandRouter,
    sdkVersion: version,
    source: file,
  };
  cache.set(file, defs);
  return defs;
}

function readPackageVersion(file: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(dirname(file), '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
