/**
 * The emulator's own implementation of `/__modal/.bin/modal-sandbox-fs-tools`, the helper binary that
 * `sandbox.filesystem.*` execs on Modal: one JSON command in argv (`{"ReadFile":{"path":...}}`, `WriteFile`,
 * `ListFiles`, `MakeDirectory`, `Remove`, `Stat`), file bytes or JSON on stdout, and on failure exit code 1 with
 * `{"version":1,"error_kind":...,"message":...}` on stderr, which the SDK maps to its typed
 * `SandboxFilesystem*Error`s. `WriteFile` takes the content on stdin.
 *
 * It runs in the emulator process rather than as a program inside the sandbox: starting a helper per call would
 * cost a process start-up per file operation. It still sees exactly what the sandbox sees: every path is walked
 * from the sandbox's root directory (a handle on `/proc/<init>/root`, which includes the sandbox's own mounts:
 * volumes, /tmp, home), and symlinks are resolved component by component against that root, so a link to `/root`
 * made inside the sandbox means the sandbox's `/root`, never the host's.
 */
import type { Stats } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { ExecProcess } from './exec.js';

export const FS_TOOLS_PATH = '/__modal/.bin/modal-sandbox-fs-tools';

/** Same bound as the real tool's default (5 GiB); reads are whole-file here, so memory is the practical limit. */
const MAX_READ_FILE_SIZE = 5 * 1024 * 1024 * 1024;
const MAX_SYMLINK_HOPS = 40;

type ErrorKind =
  | 'NotFound'
  | 'IsDirectory'
  | 'IsFile'
  | 'NotDirectory'
  | 'AlreadyExists'
  | 'PathAlreadyExists'
  | 'DirectoryNotEmpty'
  | 'PermissionDenied'
  | 'FileTooLarge'
  | 'NotSupported'
  | 'Io';

class ToolError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

interface FileEntry {
  name: string;
  path: string;
  type: 'file' | 'directory' | 'symlink';
  size: number;
  mode: number;
  permissions: string;
  owner: string;
  group: string;
  modified_time: number;
  symlink_target?: string;
}

/**
 * An exec of the fs tool. Commands that need no stdin run at once; `WriteFile` runs when stdin reaches EOF.
 * `rootDir` is a host path that names the sandbox's root (see the module comment); `isAlive` is checked before
 * touching it, so nothing is done through a sandbox that has finished.
 */
export class FsToolExec extends ExecProcess {
  private readonly stdinChunks: Buffer[] = [];
  private readonly command: Record<string, unknown> | undefined;
  private readonly commandName: string | undefined;

  constructor(
    execId: string,
    argv: readonly string[],
    private readonly rootDir: string,
    private readonly isAlive: () => boolean,
    /** In a user namespace the emulator's own uid/gid appear as root inside; report them that way too. */
    private readonly hostIdsAreRoot = false,
  ) {
    super(execId);
    try {
      const parsed: unknown = argv.length === 2 ? JSON.parse(argv[1]!) : undefined;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        const [name, body] = Object.entries(parsed as Record<string, unknown>)[0] ?? [];
        if (name && body && typeof body === 'object') {
          this.commandName = name;
          this.command = body as Record<string, unknown>;
        }
      }
    } catch {
      // Reported below as a usage error, like the real binary.
    }
    if (this.commandName !== 'WriteFile') queueMicrotask(() => void this.run());
  }

  kill(): void {
    this.settle({ signal: 9 });
  }

  protected deliverStdin(data: Buffer): void {
    this.stdinChunks.push(data);
  }

  protected endStdin(): void {
    if (this.commandName === 'WriteFile') void this.run();
  }

  private async run(): Promise<void> {
    if (this.status) return;
    if (!this.command || !this.commandName) {
      return this.fail(2, 'usage: modal-sandbox-fs-tools <command-json>\n');
    }
    const path = this.command['path'];
    if (typeof path !== 'string' || !path.startsWith('/')) {
      return this.fail(2, `invalid command: ${this.commandName} needs an absolute "path"\n`);
    }
    try {
      if (!this.isAlive()) throw new ToolError('Io', 'the sandbox is not running');
      switch (this.commandName) {
        case 'ReadFile':
          await this.readFileCommand(path);
          break;
        case 'WriteFile':
          await this.writeFileCommand(path);
          break;
        case 'ListFiles':
          await this.listFilesCommand(path);
          break;
        case 'MakeDirectory':
          await this.makeDirectoryCommand(path, this.command['parents'] !== false);
          break;
        case 'Remove':
          await this.removeCommand(path, this.command['recursive'] === true);
          break;
        case 'Stat':
          await this.statCommand(path);
          break;
        case 'Watch':
          throw new ToolError('NotSupported', 'watching is not supported by the Modal emulator');
        default:
          return this.fail(2, `unknown command: ${this.commandName}\n`);
      }
      this.settle({ code: 0 });
    } catch (error) {
      const toolError = error instanceof ToolError ? error : fromErrno(error);
      const payload: Record<string, unknown> = { version: 1, error_kind: toolError.kind, message: toolError.message };
      if (toolError.detail !== undefined) payload['detail'] = toolError.detail;
      this.fail(1, JSON.stringify(payload));
    }
  }

  private fail(code: number, stderr: string): void {
    if (this.status) return;
    this.stderr.push(Buffer.from(stderr));
    this.settle({ code });
  }

  private async readFileCommand(path: string): Promise<void> {
    const host = await this.resolve(path, true);
    const info = await statOrThrow(host, {
      ENOENT: ['NotFound', 'path does not exist'],
      ENOTDIR: ['NotFound', 'path does not exist'],
    });
    if (info.isDirectory()) throw new ToolError('IsDirectory', 'expected a file path');
    if (info.size > MAX_READ_FILE_SIZE) {
      throw new ToolError('FileTooLarge', `file is ${info.size} bytes, which exceeds the ${MAX_READ_FILE_SIZE} byte limit`);
    }
    this.stdout.push(await readFile(host));
  }

  private async writeFileCommand(path: string): Promise<void> {
    const host = await this.resolve(path, true);
    const existing = await stat(host).catch(() => undefined);
    if (existing?.isDirectory()) throw new ToolError('IsDirectory', 'expected a file path');
    const parentPath = posix.dirname(path);
    const parentHost = await this.resolve(parentPath, true);
    const parent = await stat(parentHost).catch(() => undefined);
    if (parent && !parent.isDirectory()) {
      throw new ToolError('AlreadyExists', 'a component of the path is not a directory');
    }
    if (!parent) {
      await mkdir(parentHost, { recursive: true }).catch((error: unknown) => {
        throw codeOf(error) === 'ENOTDIR' || codeOf(error) === 'EEXIST' ? new ToolError('NotDirectory', 'a component of the path is not a directory') : error;
      });
    }
    if (!this.isAlive()) throw new ToolError('Io', 'the sandbox is not running');
    await writeFile(host, Buffer.concat(this.stdinChunks));
  }

  private async listFilesCommand(path: string): Promise<void> {
    const host = await this.resolve(path, true);
    const info = await statOrThrow(host, {
      ENOENT: ['NotFound', 'path does not exist'],
      ENOTDIR: ['NotDirectory', 'a component of the path is not a directory'],
    });
    if (!info.isDirectory()) throw new ToolError('IsFile', 'expected a directory path');
    const entries: FileEntry[] = [];
    for (const name of (await readdir(host)).sort()) {
      const entryHost = `${host}/${name}`;
      const entryStat = await lstat(entryHost).catch(() => undefined);
      if (!entryStat) continue;
      entries.push(await this.entry(name, posix.join(posix.normalize(path), name), entryHost, entryStat));
    }
    this.stdout.push(Buffer.from(JSON.stringify(entries)));
  }

  private async makeDirectoryCommand(path: string, parents: boolean): Promise<void> {
    const host = await this.resolve(path, true);
    try {
      if (parents) {
        const existing = await stat(host).catch(() => undefined);
        if (existing && !existing.isDirectory()) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
        await mkdir(host, { recursive: true });
      } else {
        await mkdir(host);
      }
    } catch (error) {
      const code = codeOf(error);
      if (code === 'EEXIST') throw new ToolError('PathAlreadyExists', 'path already exists');
      if (code === 'ENOENT') throw new ToolError('NotFound', 'parent directory does not exist');
      if (code === 'ENOTDIR') throw new ToolError('NotDirectory', 'a component of the path is not a directory');
      throw error;
    }
  }

  private async removeCommand(path: string, recursive: boolean): Promise<void> {
    const host = await this.resolve(path, false);
    const info = await lstat(host).catch(() => undefined);
    if (!info) throw new ToolError('NotFound', 'path does not exist');
    if (!info.isDirectory()) return unlink(host);
    if (recursive) return rm(host, { recursive: true, force: true });
    try {
      await rmdir(host);
    } catch (error) {
      if (codeOf(error) === 'ENOTEMPTY') throw new ToolError('DirectoryNotEmpty', 'directory is not empty');
      throw error;
    }
  }

  private async statCommand(path: string): Promise<void> {
    const host = await this.resolve(path, false);
    let info: Stats;
    try {
      info = await lstat(host);
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOENT') throw new ToolError('NotFound', 'path does not exist');
      if (code === 'ENOTDIR') throw new ToolError('NotDirectory', 'a component of the path is not a directory');
      throw error;
    }
    const name = posix.basename(path.replace(/\/+$/, '')) || '/';
    this.stdout.push(Buffer.from(JSON.stringify(await this.entry(name, path, host, info))));
  }

  private entry(name: string, path: string, host: string, info: Stats): Promise<FileEntry> {
    const asRoot = (id: number, own: number | undefined): number => (this.hostIdsAreRoot && id === own ? 0 : id);
    const uid = asRoot(info.uid, process.getuid?.());
    return fileEntry(name, path, host, info, uid, asRoot(info.gid, process.getgid?.()));
  }

  /**
   * Maps a sandbox path to a host path under `rootDir` whose existing directory components contain no symlinks.
   * Symlinks are followed by hand (an absolute target restarts from the sandbox root), so the kernel never follows
   * a link the sandbox planted. `followFinal=false` keeps a final symlink itself (stat, remove).
   */
  private async resolve(path: string, followFinal: boolean): Promise<string> {
    const pending = path.split('/');
    const resolved: string[] = [];
    let hops = 0;
    let missing = false;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const isLast = pending.every((p) => p === '' || p === '.');
      if (missing || (isLast && !followFinal)) {
        resolved.push(part);
        continue;
      }
      const candidate = this.host(resolved, part);
      let info: Stats;
      try {
        info = await lstat(candidate);
      } catch (error) {
        const code = codeOf(error);
        if (code === 'ENOENT') {
          missing = true;
          resolved.push(part);
          continue;
        }
        if (code === 'ENOTDIR') throw new ToolError('NotDirectory', 'a component of the path is not a directory');
        if (code === 'EACCES') throw new ToolError('PermissionDenied', 'permission denied');
        throw error;
      }
      if (info.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw new ToolError('Io', 'too many levels of symbolic links');
        const target = await readlink(candidate);
        if (target.startsWith('/')) resolved.length = 0;
        pending.unshift(...target.split('/'));
        continue;
      }
      resolved.push(part);
    }
    return this.host(resolved);
  }

  private host(parts: readonly string[], extra?: string): string {
    const all = extra === undefined ? parts : [...parts, extra];
    return all.length === 0 ? this.rootDir : `${this.rootDir}/${all.join('/')}`;
  }
}

async function statOrThrow(host: string, map: Partial<Record<string, [ErrorKind, string]>>): Promise<Stats> {
  try {
    return await stat(host);
  } catch (error) {
    const mapped = map[codeOf(error) ?? ''];
    if (mapped) throw new ToolError(mapped[0], mapped[1]);
    throw error;
  }
}

async function fileEntry(name: string, path: string, host: string, info: Stats, uid: number, gid: number): Promise<FileEntry> {
  const type = info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'directory' : 'file';
  const entry: FileEntry = {
    name,
    path,
    type,
    size: info.size,
    mode: info.mode,
    permissions: (info.mode & 0o7777).toString(8).padStart(4, '0'),
    owner: accountName('/etc/passwd', uid),
    group: accountName('/etc/group', gid),
    modified_time: info.mtimeMs / 1000,
  };
  if (type === 'symlink') entry.symlink_target = await readlink(host);
  return entry;
}

const accountCache = new Map<string, Map<number, string>>();

/** uid/gid → name from the (host's, which is also the sandbox's read-only) /etc files; the number if unknown. */
function accountName(file: string, id: number): string {
  let table = accountCache.get(file);
  if (!table) {
    table = new Map();
    try {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const [name, , num] = line.split(':');
        if (name && num !== undefined && /^\d+$/.test(num)) table.set(Number(num), name);
      }
    } catch {
      // No table: numbers are used.
    }
    accountCache.set(file, table);
  }
  return table.get(id) ?? String(id);
}

function codeOf(error: unknown): string | undefined {
  return error && typeof error === 'object' && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function fromErrno(error: unknown): ToolError {
  const code = codeOf(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new ToolError('PermissionDenied', 'permission denied', detail);
  }
  if (code === 'ENOENT') return new ToolError('NotFound', 'path does not exist', detail);
  if (code === 'ENOTDIR') return new ToolError('NotDirectory', 'a component of the path is not a directory', detail);
  if (code === 'EISDIR') return new ToolError('IsDirectory', 'expected a file path', detail);
  return new ToolError('Io', 'I/O error', detail);
}
