/**
 * The files capability on a user's Volume, through that user's sandbox.
 *
 * Paths and scopes are checked by runtime-core first (INVALID_SCOPE / INVALID_PATH before any RPC). Then one exec of
 * a small POSIX sh script (SCOPE_SCRIPT) resolves the path *inside the sandbox* exactly as `resolveInsideRoot` does
 * on the local disk: the target, or else its deepest existing ancestor, must have a real path equal to the scope root
 * or below `root + '/'`, and a dangling symlink anywhere on the way is refused. The scope root is
 * `/vol/projects/{projectId}` or `/vol/assets`, so a link to another project of the same user, to the asset space, to
 * /vol or to /etc is outside. The same script answers stat/exists/list, performs delete, and moves content: a read
 * prints the checked real path's bytes; a write takes them on stdin into a temporary file in the backend's own
 * `/vol/.tmp`, then renames it into place, so a reader never sees half a file and a symlink at the target is
 * replaced, never written through (the same semantics as the local backend's write).
 *
 * Every write and delete ends with `sync /vol` inside the same command, so it is durable on the Volume (v2) before the
 * call resolves, at no extra round trip.
 *
 * RPCs per call (warm sandbox, command helper running: see helper.ts): every operation is one command, so 1 RPC
 * (TaskExecStdinWrite), one round trip. Without the helper (it could not start): an exec each, 4 RPCs in two round
 * trips (5 for a write, whose content goes on stdin).
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
import { execBinary, execText } from './client.js';
import { MOUNT, type ModalDeadlines } from './config.js';
import type { HelperStep } from './helper.js';
import type { SandboxPool } from './sandboxes.js';

/** Exit codes of SCOPE_SCRIPT. */
const EXIT = { denied: 3, notFound: 4, conflict: 5, tooLarge: 6 } as const;

/**
 * `sh -c SCOPE_SCRIPT scope <root> <relative> <op> [arg]`. Mirrors runtime-core's resolveInsideRoot, then runs <op>:
 * exists | stat | read <maxBytes> (the bytes on stdout) | list <recursive 0|1> | delete | write <tempfile> (the
 * content on stdin, read first, whatever the outcome, so the writer is never left with a closed pipe).
 */
export const SCOPE_SCRIPT = String.raw`
set -u
root=$(realpath -m -- "$1") || exit 70
rel=$2; op=$3; arg=\${4:-}
tmp=
cleanup() { [ -n "$tmp" ] && rm -f -- "$tmp"; }
out() { cleanup; exit "$1"; }
if [ "$op" = write ]; then tmp=$arg; [ -d "\${tmp%/*}" ] || mkdir -p -m 700 -- "\${tmp%/*}"; cat > "$tmp" || out 71; fi
if [ -z "$rel" ]; then abs=$root; else abs=$root/$rel; fi
inside() { case $1 in "$root"|"$root"/*) return 0;; esac; return 1; }
notdir=0
if real=$(realpath -e -- "$abs" 2>/dev/null); then
  exists=1
else
  exists=0; real=; p=$abs
  while [ "$p" != "$root" ]; do
    [ -L "$p" ] && out 3
    p=\${p%/*}
    if real=$(realpath -e -- "$p" 2>/dev/null); then
      [ -d "$real" ] || notdir=1
      break
    fi
    real=
  done
fi
[ -n "$real" ] && ! inside "$real" && out 3
case $op in
exists)
  echo $exists ;;
stat)
  [ $notdir = 1 ] && out 5; [ $exists = 1 ] || out 4
  find "$abs" -maxdepth 0 -printf '%y\t%s\t%T@\n' ;;
read)
  [ $notdir = 1 ] && out 5; [ $exists = 1 ] || out 4
  [ -f "$real" ] || out 5
  size=$(stat -c %s -- "$real")
  [ "$size" -gt "$arg" ] && { echo "$size"; out 6; }
  # Removed since the check (an agent working in the tree): not found, as it would have been a moment later.
  cat -- "$real" || { [ -e "$real" ] && out 71; out 4; } ;;
list)
  [ $notdir = 1 ] && out 5; [ $exists = 1 ] || out 4
  [ -d "$real" ] || out 5
  cd -- "$real" || out 70
  if [ "$arg" = 1 ]; then depth=; else depth='-maxdepth 1'; fi
  find . -mindepth 1 $depth -name .git -prune -o -printf '%P\0%y\0%s\0%T@\0' ;;
delete)
  [ $notdir = 1 ] && out 5
  [ -e "$abs" ] || [ -L "$abs" ] || out 4
  rm -rf -- "$abs" || out 71
  sync @VOL@ ;;
write)
  [ $notdir = 1 ] && out 5
  [ -d "$abs" ] && [ ! -L "$abs" ] && out 5
  mkdir -p -- "\${abs%/*}" 2>/dev/null || out 5
  mv -fT -- "$tmp" "$abs" 2>/dev/null || out 5
  tmp=
  sync @VOL@ ;;
*)
  out 64 ;;
esac
`
  .replace(/\\\$/g, '$')
  .replace(/@VOL@/g, MOUNT.volume);

export function volumePath(scope: FileScope): string {
  return `${MOUNT.volume}/${userVolumeLayout(scope)}`;
}

const KINDS: Record<string, FileKind> = { f: 'file', d: 'directory', l: 'symlink' };

function kindOf(letter: string): FileKind {
  // Sockets, FIFOs and devices only appear if an agent makes them; they are neither file nor directory.
  return KINDS[letter] ?? 'file';
}

function isoFromEpoch(seconds: string): string {
  const ms = Number.parseFloat(seconds) * 1000;
  return new Date(Number.isFinite(ms) ? Math.floor(ms) : 0).toISOString();
}

function entryOf(path: string, kind: FileKind, size: string, mtime: string): FileEntry {
  return { path, kind, size: kind === 'directory' ? 0 : Number(size) || 0, mtime: isoFromEpoch(mtime) };
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

/** `sh -c SCOPE_SCRIPT …` for one operation on one path of a scope. */
function scopeArgv(scope: FileScope, relative: string, op: string, arg?: string): string[] {
  return ['sh', '-c', SCOPE_SCRIPT, 'scope', volumePath(scope), relative, op, ...(arg === undefined ? [] : [arg])];
}

/** The typed error for SCOPE_SCRIPT's non-zero exit. */
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

  async function scoped(sandbox: Sandbox, scope: FileScope, relative: string, op: string, arg?: string, binary = false, stdin?: Uint8Array) {
    const argv = scopeArgv(scope, relative, op, arg);
    const options = stdin ? { ...execOptions, stdin } : execOptions;
    const result = binary ? await execBinary(sandbox, argv, options) : await execText(sandbox, argv, options);
    if (result.exitCode !== 0) throw scopeFailure(result, relative, op, maxFileBytes);
    return result;
  }

  async function read(scope: FileScope, p: string): Promise<Uint8Array> {
    const valid = validateFileScope(scope);
    const relative = normalizeRelativePath(p);
    const { stdout } = await pool.use(valid.userId, 'read', (sandbox) => scoped(sandbox, valid, relative, 'read', String(maxFileBytes), true));
    return stdout as Uint8Array;
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
        await scoped(sandbox, valid, relative, 'write', temp, false, bytes);
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
      const { stdout } = await pool.use(valid.userId, 'list', (sandbox) => scoped(sandbox, valid, relative, 'list', recursive ? '1' : '0', true));
      const fields = Buffer.from(stdout as Uint8Array)
        .toString('utf8')
        .split('\0');
      const out: FileEntry[] = [];
      for (let i = 0; i + 3 < fields.length; i += 4) {
        const name = fields[i]!;
        out.push(entryOf(relative === '' ? name : `${relative}/${name}`, kindOf(fields[i + 1]!), fields[i + 2]!, fields[i + 3]!));
      }
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },

    async exists(scope, p) {
      const valid = validateFileScope(scope);
      const relative = normalizeRelativePath(p);
      const { stdout } = await pool.use(valid.userId, 'exists', (sandbox) => scoped(sandbox, valid, relative, 'exists'));
      return (stdout as string).trim() === '1';
    },

    async stat(scope, p) {
      const valid = validateFileScope(scope);
      const relative = normalizeRelativePath(p);
      const { stdout } = await pool.use(valid.userId, 'stat', (sandbox) => scoped(sandbox, valid, relative, 'stat'));
      const [type = 'f', size = '0', mtime = '0'] = (stdout as string).replace(/\n$/, '').split('\t');
      return entryOf(relative, kindOf(type), size, mtime);
    },

    async listProjects(scope) {
      const { userId } = validateUserScope(scope);
      return pool.use(userId, 'listProjects', async (sandbox) => {
        // Directories only (a symlink an agent made is not a project); no projects folder yet: none.
        const r = await execText(
          sandbox,
          ['sh', '-c', '[ -d "$1" ] || exit 0; find "$1" -mindepth 1 -maxdepth 1 -type d -printf \'%f\\n\'', 'list-projects', `${MOUNT.volume}/projects`],
          execOptions,
        );
        if (r.exitCode !== 0) throw createError('INTERNAL', `listing the projects failed: ${r.stderr.trim().slice(0, 300)}`);
        return r.stdout
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
