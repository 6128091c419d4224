/**
 * The files capability on a user's Volume, through that user's sandbox.
 *
 * Paths and scopes are checked by runtime-core first (INVALID_SCOPE / INVALID_PATH before any RPC). Then the path is
 * resolved *inside the sandbox* exactly as `resolveInsideRoot` does on the local disk, and the operation done there,
 * by the command helper itself with no process start (`@scope`, scope-ops.ts: the one in-sandbox implementation; a
 * sandbox without a helper runs the same source in a `node -e` exec). A read prints the checked real path's bytes; a
 * write takes them with the request into a temporary file in the backend's own `/vol/.tmp`, then renames it into
 * place, so a reader never sees half a file and a symlink at the target is replaced, never written through.
 *
 * Every write and delete is followed by `sync /vol` in the same request, so it is durable on the Volume (v2) before
 * the call resolves, at no extra round trip; reads, stats and lists touch nothing durable and sync nothing.
 *
 * RPCs per call (warm sandbox, command helper running: see helper.ts): every operation is one request, so 1 RPC
 * (TaskExecStdinWrite), one round trip. Without the helper (it could not start): an exec per step, 4 RPCs in two
 * round trips each (5 for a write, whose content goes on stdin).
 */
import { randomBytes } from 'node:crypto';
import type { Sandbox } from 'modal';
import {
  createError,
  isUuid,
  normalizeRelativePath,
  userVolumeLayout,
  validateFileScope,
  validateProjectScope,
  validateUserScope,
  type FileEntry,
  type FileKind,
  type FileScope,
  type FilesCapability,
  type ListOptions,
  type ProjectScope,
} from '@dreamcore/runtime-core';
import { execSteps, execText } from './client.js';
import { MOUNT, type ModalDeadlines } from './config.js';
import type { HelperStep } from './helper.js';
import { SCOPE_EXIT as EXIT } from './scope-ops.js';
import type { SandboxPool } from './sandboxes.js';

export function volumePath(scope: FileScope): string {
  return `${MOUNT.volume}/${userVolumeLayout(scope)}`;
}

function entryOf(path: string, kind: FileKind, size: number, mtimeMs: number): FileEntry {
  return { path, kind, size: kind === 'directory' ? 0 : size, mtime: new Date(Math.floor(mtimeMs)).toISOString() };
}

function scriptError(code: number, stderr: string, relative: string, op: string): Error {
  const details = { path: relative };
  switch (code) {
    case EXIT.denied:
      return createError('ACCESS_DENIED', 'path goes through a symlink that leaves the scope', { details });
    case EXIT.notFound:
      return createError('NOT_FOUND', `${relative || 'root'} not found`, { details });
    case EXIT.conflict:
      return createError('CONFLICT', `${relative}: a directory where a file is needed, or a file where a directory is needed`, { details });
    default:
      return createError('INTERNAL', `file ${op} failed (exit ${code}): ${stderr.trim().slice(0, 300)}`, { details: { ...details, exitCode: code } });
  }
}

/** The helper's `@scope` step (scope-ops.ts) for one operation on one path of a scope. */
function scopeArgv(scope: FileScope, relative: string, op: string, arg?: string): string[] {
  return ['@scope', volumePath(scope), relative, op, ...(arg === undefined ? [] : [arg])];
}

/** The typed error for `@scope`'s non-zero exit. */
function scopeFailure(result: { exitCode: number; stdout: Uint8Array | string; stderr: string }, relative: string, op: string, maxFileBytes: number): Error {
  if (result.exitCode === EXIT.tooLarge) {
    const stdout = typeof result.stdout === 'string' ? result.stdout : new TextDecoder().decode(result.stdout);
    return createError('TOO_LARGE', `${relative} is larger than ${maxFileBytes} bytes`, {
      details: { path: relative, size: Number(stdout.trim()), limit: maxFileBytes },
    });
  }
  return scriptError(result.exitCode, result.stderr, relative, op);
}

/**
 * A checked read of a project file as a command of its own, for an agent run that reads in its own request
 * (`after.read`): the same script and checks as `files.read`. `readAnswer` turns its result into the file's text.
 */
export function readStep(scope: ProjectScope, relative: string, maxFileBytes: number): HelperStep {
  return { argv: scopeArgv(scope, relative, 'read', String(maxFileBytes)), mayFail: true };
}

export function readAnswer(result: { exitCode: number; stdout: Uint8Array; stderr: string }, relative: string, maxFileBytes: number): string {
  if (result.exitCode !== 0) throw scopeFailure(result, relative, 'read', maxFileBytes);
  return Buffer.from(result.stdout).toString('utf8');
}

export interface ModalFilesOptions {
  pool: SandboxPool;
  maxFileBytes: number;
  deadlines: Required<ModalDeadlines>;
  /** Names of this deployment's user volumes (`dreamcore-user-{userId}`): enables `listUsers`. */
  listUserVolumes?: () => Promise<string[]>;
  volumePrefix?: string;
}

export function createModalFiles({ pool, maxFileBytes, deadlines, listUserVolumes, volumePrefix = 'dreamcore-user-' }: ModalFilesOptions): FilesCapability {
  const execOptions = { timeoutMs: deadlines.commandMs, rpcMs: deadlines.rpcMs };

  /** One `@scope` operation; a write or delete is followed by `sync /vol` in the same request. */
  async function scoped(sandbox: Sandbox, scope: FileScope, relative: string, op: string, arg?: string, stdin?: Uint8Array) {
    const durable = op === 'write' || op === 'delete';
    const steps: HelperStep[] = [{ argv: scopeArgv(scope, relative, op, arg) }, ...(durable ? [{ argv: ['sync', MOUNT.volume] }] : [])];
    const [result, synced] = await execSteps(sandbox, steps, stdin ? { ...execOptions, stdin } : execOptions);
    if (result!.exitCode !== 0) throw scopeFailure(result!, relative, op, maxFileBytes);
    if (synced && synced.exitCode !== 0) throw createError('INTERNAL', `the volume could not be synced: ${synced.stderr.trim().slice(0, 300)}`);
    return result!;
  }

  const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

  async function read(scope: FileScope, p: string): Promise<Uint8Array> {
    const valid = validateFileScope(scope);
    const relative = normalizeRelativePath(p);
    const { stdout } = await pool.use(valid.userId, 'read', (sandbox) => scoped(sandbox, valid, relative, 'read', String(maxFileBytes)));
    return stdout;
  }

  return {
    read,

    async readText(scope, p) {
      return Buffer.from(await read(scope, p)).toString('utf8');
    },

    async write(scope, p, data) {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      if (!(bytes instanceof Uint8Array)) throw createError('INVALID_ARGUMENT', 'data must be a string or bytes');
      const valid = validateFileScope(scope);
      const relative = normalizeRelativePath(p);
      // Refused before a byte is sent.
      if (bytes.byteLength > maxFileBytes) {
        throw createError('TOO_LARGE', `write of ${bytes.byteLength} bytes exceeds the ${maxFileBytes}-byte limit`, {
          details: { path: relative, size: bytes.byteLength, limit: maxFileBytes },
        });
      }
      return pool.use(valid.userId, 'write', async (sandbox) => {
        const temp = `${MOUNT.volume}/.tmp/w-${randomBytes(9).toString('hex')}`;
        await scoped(sandbox, valid, relative, 'write', temp, bytes);
        return { path: relative, kind: 'file' as const, size: bytes.byteLength, mtime: new Date().toISOString() };
      });
    },

    async delete(scope, p) {
      const valid = validateFileScope(scope);
      const relative = normalizeRelativePath(p);
      await pool.use(valid.userId, 'delete', (sandbox) => scoped(sandbox, valid, relative, 'delete'));
    },

    async list(scope, dir = '', options: ListOptions = {}) {
      const valid = validateFileScope(scope);
      const relative = normalizeRelativePath(dir, { allowRoot: true });
      const recursive = options.recursive ?? true;
      const { stdout } = await pool.use(valid.userId, 'list', (sandbox) => scoped(sandbox, valid, relative, 'list', recursive ? '1' : '0'));
      const entries = JSON.parse(text(stdout)) as [string, FileKind, number, number][];
      const out = entries.map(([name, kind, size, mtimeMs]) => entryOf(relative === '' ? name : `${relative}/${name}`, kind, size, mtimeMs));
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },

    async exists(scope, p) {
      const valid = validateFileScope(scope);
      const relative = normalizeRelativePath(p);
      const { stdout } = await pool.use(valid.userId, 'exists', (sandbox) => scoped(sandbox, valid, relative, 'exists'));
      return text(stdout) === '1';
    },

    async stat(scope, p) {
      const valid = validateFileScope(scope);
      const relative = normalizeRelativePath(p);
      const { stdout } = await pool.use(valid.userId, 'stat', (sandbox) => scoped(sandbox, valid, relative, 'stat'));
      const { kind, size, mtimeMs } = JSON.parse(text(stdout)) as { kind: FileKind; size: number; mtimeMs: number };
      return entryOf(relative, kind, size, mtimeMs);
    },

    async listProjects(scope) {
      const { userId } = validateUserScope(scope);
      return pool.use(userId, 'listProjects', async (sandbox) => {
        // Directories only (a symlink an agent made is not a project); no projects folder yet: none.
        const [r] = await execSteps(sandbox, [{ argv: ['@projects', `${MOUNT.volume}/projects`] }], execOptions);
        if (r!.exitCode !== 0) throw createError('INTERNAL', `listing the projects failed: ${r!.stderr.trim().slice(0, 300)}`);
        return text(r!.stdout)
          .split('\n')
          .filter((name) => isUuid(name))
          .sort();
      });
    },

    // A user has a space once their volume exists (made by their first call); no sandbox is started to list them.
    ...(listUserVolumes
      ? {
          async listUsers() {
            const ids = (await listUserVolumes())
              .filter((name) => name.startsWith(volumePrefix))
              .map((name) => name.slice(volumePrefix.length))
              .filter((id) => isUuid(id));
            return [...new Set(ids)].sort();
          },
        }
      : {}),

    async deleteProject(scope: ProjectScope) {
      const valid = validateProjectScope(scope);
      await pool.use(valid.userId, 'deleteProject', async (sandbox) => {
        // The project's tree and history, and the agent's session state for it.
        const r = await execText(
          sandbox,
          [
            'sh',
            '-c',
            `[ -e "$1" ] || [ -L "$1" ] || exit ${EXIT.notFound}; rm -rf -- "$1" "$2" && sync ${MOUNT.volume}`,
            'delete-project',
            volumePath(valid),
            `${MOUNT.volume}/.agent/${valid.projectId}`,
          ],
          execOptions,
        );
        if (r.exitCode !== 0) throw scriptError(r.exitCode, r.stderr, '', 'deleteProject');
      });
    },
  };
}
