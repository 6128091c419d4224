/**
 * How `sync <mountpoint>` inside a sandbox reaches the emulator.
 *
 * On Modal a v2 volume is a FUSE filesystem, and `sync` on its mountpoint makes that filesystem commit. Here a volume
 * is a plain folder (the sandbox's view, see volumes.ts), so the sandbox's `sync` is a small shell script bound over
 * /usr/bin/sync: it resolves its arguments, sends one line to a FIFO the emulator reads, and waits for the answer on a
 * FIFO of its own. The emulator commits the v2 volumes those paths are on and answers `0` (or `1 <reason>`).
 *
 * Lines are written with one printf, so concurrent syncs never interleave (FIFO writes up to PIPE_BUF are atomic).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { closeSync, constants as fsConstants, openSync, unlinkSync, writeSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

/** Where the channel is inside every sandbox. */
export const CONTROL_DIR = '/__modal/.emulator';

/**
 * The emulator's `sync`; it behaves like coreutils' for paths that do not exist. Modal's `sync` is one process start
 * (coreutils: open + fsync of the mountpoint, which the volume's filesystem turns into a commit); this one is two (the
 * shell running it, and `mkfifo` for its answer): paths are resolved with the shell's own `cd -P`, the answer
 * FIFO is named by the process id (unique among the sandbox's live processes; one a killed `sync` left behind is
 * replaced) and removed by the emulator once answered.
 */
export const SYNC_SHIM = `#!/bin/sh
# Modal emulator: \`sync <mountpoint>\` commits a v2 volume, as on Modal. See sync-channel.ts in @dreamcore/backend-modal.
ctl=${CONTROL_DIR}
paths=
tab='\t'; here=$PWD
for arg in "$@"; do
  case $arg in
    -*) ;;
    *)
      # Resolved by the shell itself (cd -P), no process started; the shell's working directory moves, so relative
      # paths are taken from where it started.
      case $arg in /*) a=$arg;; *) a=$here/$arg;; esac
      p=
      if [ -d "$a" ]; then
        cd -P -- "$a" 2>/dev/null && p=$PWD
      elif [ -e "$a" ]; then
        d=\${a%/*}
        cd -P -- "\${d:-/}" 2>/dev/null && p=\${PWD%/}/\${a##*/}
      fi
      [ -n "$p" ] || { echo "sync: error opening '$arg': No such file or directory" >&2; exit 1; }
      paths="$paths$tab$p" ;;
  esac
done
[ -p "$ctl/sync" ] || { echo "sync: the Modal emulator's control channel $ctl is missing" >&2; exit 1; }
reply=$ctl/reply.$$
[ -e "$reply" ] && rm -f "$reply"
mkfifo -m 600 "$reply" || exit 1
exec 3<>"$reply"
printf 'reply=%s%s\\n' "$reply" "$paths" > "$ctl/sync"
IFS= read -r answer <&3
exec 3<&-
[ "$answer" = 0 ] && exit 0
echo "sync: \${answer#* }" >&2
exit 1
`;

/** Writes the shim once per state dir (it is bound read-only into every sandbox). */
export async function writeSyncShim(stateDir: string): Promise<string> {
  const path = join(stateDir, 'bin', 'sync');
  await mkdir(join(stateDir, 'bin'), { recursive: true });
  await writeFile(path, SYNC_SHIM, { mode: 0o755 });
  await chmod(path, 0o755);
  return path;
}

/**
 * The emulator's end of one sandbox's channel. `hostDir` is bound at CONTROL_DIR; `onSync` receives the in-sandbox
 * paths of one `sync` (empty: all volumes) and throws to make it fail.
 */
export class SyncChannel {
  private socket: net.Socket | undefined;
  private buffered = '';

  constructor(
    readonly hostDir: string,
    private readonly onSync: (paths: string[]) => Promise<void>,
  ) {}

  /**
   * Makes the control folder and returns `argv` (the sandbox's start) wrapped so that the same process start makes
   * the channel's FIFO first: starting a process from the emulator's large process costs a fork of it, so the FIFO
   * costs no start of its own. Call `attach` once the wrapped command has got past that (the sandbox said ready).
   */
  async wrapStart(argv: readonly string[]): Promise<string[]> {
    await mkdir(this.hostDir, { recursive: true });
    // Any uid in the sandbox may sync (the agent's too), and leaves its reply FIFO here.
    await chmod(this.hostDir, 0o1777);
    return ['/bin/sh', '-c', 'PATH=/usr/bin:/bin mkfifo -m 0622 "$0" && exec "$@"', join(this.hostDir, 'sync'), ...argv];
  }

  /** Opens the channel's FIFO (made by the command `wrapStart` returned). */
  async attach(): Promise<void> {
    const fifo = join(this.hostDir, 'sync');
    await chmod(fifo, 0o622);
    // Read-write, so the FIFO never reports end-of-file between writers.
    const fd = openSync(fifo, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
    this.socket = new net.Socket({ fd, readable: true, writable: false });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        void this.handle(line);
      }
    });
    this.socket.on('error', () => undefined);
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private async handle(line: string): Promise<void> {
    const [head = '', ...paths] = line.split('\t');
    if (!head.startsWith('reply=')) return;
    const reply = head.slice('reply='.length);
    // Only a FIFO in this sandbox's own control folder is ever opened.
    if (!reply.startsWith(`${CONTROL_DIR}/reply.`) || reply.includes('/', CONTROL_DIR.length + 1)) return;
    let answer = '0';
    try {
      await this.onSync(paths.filter(Boolean));
    } catch (error) {
      answer = `1 ${(error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ')}`;
    }
    const file = join(this.hostDir, reply.slice(CONTROL_DIR.length + 1));
    // Without the thread pool (a few microseconds of work: each step through it waits for the emulator's busy event
    // loop, which made the answer, not the commit, most of a `sync` on a loaded machine).
    let fd: number | undefined;
    try {
      // The shim holds its FIFO open for reading before it asks, so a non-blocking open finds a reader.
      fd = openSync(file, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
      writeSync(fd, `${answer}\n`);
      // The shim holds it open until it has read the answer; the name is not needed any more.
      unlinkSync(file);
    } catch {
      // The process that asked is gone (killed, or its sandbox ended).
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}
