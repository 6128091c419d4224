/**
 * The command helper: one long-lived process in each user sandbox that runs the backend's short commands (the scope
 * script, git, the cancel script) as they arrive on its stdin and answers on its stdout, so a warm operation costs one
 * network round trip instead of an exec each (TaskExecStart + stdout + stderr + wait, 4 RPCs in two round trips, plus a
 * process start under gVisor on Modal).
 *
 * Wire format, both ways: frames `[u32 header length][u32 body length][header JSON][body]` (big-endian).
 *   request  header `{ id, timeoutMs, stream?, steps: [{ argv, env?, cwd?, mayFail?, always? }] }`, body = the first step's
 *            stdin; `stream`: the first step's output comes as it is written, in frames `{ id, fd }` (1 or 2);
 *   response header `{ id, results: [{ code, out, err }] }` (code: exit status, 128 + signal when killed; out, err:
 *            lengths), body = each step's stdout then stderr.
 * A request's steps run one after another, stopping after one that fails unless it may (a probe, add, commit and
 * rev-parse make one request: one round trip for a commit); a step marked `always` runs even then (the volume's
 * `sync` at the end of an agent run's request, whatever became of the run and its after-steps). The steps that ran
 * answer, in order. Requests are independent: the helper runs them
 * concurrently, each step in a session of its own (killed as a whole when the request's time is up), with the
 * sandbox's environment plus the step's `env`. One TaskExecStdinWrite carries every request
 * queued while the previous write was in flight; responses stream back on the exec's stdout, already being read.
 *
 * Lifetime: started with the sandbox (off the user's path), restarted on the next call when it has gone, and ending
 * itself after `idleMs` without a request, so that an unused sandbox still reaches Modal's idle timeout (a running
 * exec counts as activity). A command whose helper goes away before it answers (the helper idled out at that instant,
 * or the sandbox died) runs as a plain exec instead: the same result, at the old cost, and a dead sandbox is then
 * found out by the usual path. A helper that cannot start at all (an image without node) is not tried again on that
 * sandbox: every command there is an exec, as before.
 *
 * The helper runs as root, like the execs it replaces; its stdin is reachable only through Modal's API (the agent's uid
 * cannot open another user's file descriptors), and the agent's cleanup kills only the agent's own uid and session.
 */
import type { ContainerProcess, Sandbox } from 'modal';
import { RUN_COMMIT_MESSAGE_SOURCE } from '@dreamcore/runtime-core';
import { SCOPE_OPS_SOURCE } from './scope-ops.js';

/**
 * The steps the helper does itself, with no process start (a process start is several ms natively, more under
 * gVisor, and a node start 70-200 ms in a loaded sandbox). Each is `(args, stdin) => [exitCode, stdout, stderr?]`:
 *   ['@scope', root, relative, op, arg?], ['@projects', dir]: the files capability's work (scope-ops.ts);
 *   ['@probe', dir]: prints `p` when dir is a directory, then `r` when dir/.git is one (git.ts's probe);
 *   ['@commit-message', subject, log, file]: an agent run's after.commit message (agent.ts) by runtime-core's rule
 *     over the run's last result line (the one StreamJsonTranslator keeps), written to file and printed; exit 3
 *     when the run has no successful result line. `log` `-`: the result line the helper kept from the streamed
 *     first step of the same request (no log file, no `tee`: three process starts and a pipe hop fewer per run);
 *     otherwise a log file, removed either way;
 *   ['@remove', file...]: unlinks the files (missing ones are fine);
 *   ['@changed', before, after, file...]: an agent run's changed files, the manifest lines that occur in one of the
 *     two manifests only (agent.ts parses them), then unlinks the manifests and the files (no sort, uniq or rm).
 * Without a helper the same source runs in a `node -e` exec (BUILTIN_RUNNER): one implementation either way.
 */
const BUILTINS_SOURCE = String.raw`(function () {
  const fs = require('fs');
  const commitMessageRule = @RULE@;
  const isDir = (p) => {
    try {
      return fs.statSync(p).isDirectory();
    } catch (error) {
      return false;
    }
  };
  const remove = (files) => {
    for (const file of files) {
      try {
        fs.unlinkSync(file);
      } catch (error) {
        // already gone
      }
    }
    return [0, ''];
  };
  const lines = (file) => {
    try {
      return fs.readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
    } catch (error) {
      return []; // a run that stopped before its walk wrote none
    }
  };
  return Object.assign({}, @SCOPE@, {
    '@probe': ([dir]) => [0, (isDir(dir) ? 'p' : '') + (isDir(dir + '/.git') ? 'r' : '')],
    '@remove': remove,
    // The lines that occur once in the two manifests together (what sort | uniq -u printed: a path whose size or
    // time differ, or that is there before or after only), then the run's files removed.
    '@changed': ([before, after, ...files]) => {
      const seen = new Map();
      for (const line of lines(before).concat(lines(after))) seen.set(line, (seen.get(line) || 0) + 1);
      remove([before, after, ...files]);
      let out = '';
      for (const [line, count] of seen) if (count === 1) out += line + '\n';
      return [0, out];
    },
    '@commit-message': ([subject, log, file], stdin, kept) => {
      let text = '';
      if (log === '-') text = (kept && kept.result) || '';
      else {
        try {
          text = fs.readFileSync(log, 'utf8');
        } catch (error) {
          // no log: no result line
        }
        remove([log]);
      }
      let last = null;
      for (const line of text.split('\n')) {
        if (!line.includes('"result"')) continue;
        let parsed;
        try {
          parsed = JSON.parse(line.trim());
        } catch (error) {
          continue;
        }
        if (parsed && typeof parsed === 'object' && parsed.type === 'result') last = parsed;
      }
      const message = commitMessageRule(subject, last);
      if (message === null) return [3, ''];
      fs.writeFileSync(file, message, { mode: 0o600 });
      return [0, message];
    },
  });
})()`
  .replace('@RULE@', () => RUN_COMMIT_MESSAGE_SOURCE)
  .replace('@SCOPE@', () => SCOPE_OPS_SOURCE);

/**
 * `node -e BUILTIN_RUNNER <0|1> <@name> <args>...`: one of the helper's own steps as an exec of its own, for a sandbox
 * without a running helper: its stdout and stderr out, its exit code; `1`: it takes stdin (read to its end first).
 */
export const BUILTIN_RUNNER = String.raw`
'use strict';
const builtins = @BUILTINS@;
const chunks = [];
const run = () => {
  const builtin = builtins[process.argv[2]];
  let answer;
  try {
    answer = builtin ? builtin(process.argv.slice(3), Buffer.concat(chunks)) : [64, '', 'no such step'];
  } catch (error) {
    answer = [70, '', String(error && error.message)];
  }
  process.stderr.write(answer[2] || '');
  process.stdout.write(answer[1], () => process.exit(answer[0]));
};
if (process.argv[1] === '1') {
  process.stdin.on('data', (chunk) => chunks.push(chunk));
  process.stdin.on('end', run);
} else run();
`.replace('@BUILTINS@', () => BUILTINS_SOURCE);

/** The helper, run as `node -e HELPER_SCRIPT <idleMs>` (plain CommonJS: the image's node, nothing installed). */
export const HELPER_SCRIPT = String.raw`
'use strict';
const { spawn } = require('child_process');
const { constants } = require('os');
const idleMs = Number(process.argv[1]) || 300000;
let pending = [];
let buffered = 0;
let needed = 8;
let inflight = 0;
let ended = false;
let idle;
const arm = () => {
  clearTimeout(idle);
  // Takes no request from here on (one that arrives now is never run, so the backend may run it as an exec without
  // running it twice), says why it ends (so the backend does not start another at once), then ends.
  if (inflight === 0)
    idle = setTimeout(() => {
      process.stdin.removeAllListeners('data');
      process.stdout.write(frame({ id: 0, idle: true }, Buffer.alloc(0)), () => process.exit(0));
    }, idleMs);
};
const frame = (header, body) => {
  const h = Buffer.from(JSON.stringify(header));
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32BE(h.length, 0);
  lengths.writeUInt32BE(body.length, 4);
  return Buffer.concat([lengths, h, body]);
};
process.stdout.on('error', () => process.exit(0));
const fs = require('fs');
const builtins = @BUILTINS@;
// Every process of the session whose leader's id is in pidFile (what pkill -s does, with no pkill started): /proc's
// stat says each process's session (the fourth field after the command's closing parenthesis).
function killSession(pidFile) {
  let sid = 0;
  try {
    sid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch (error) {
    return; // not started yet: the request's own bound ends the step
  }
  if (!Number.isInteger(sid) || sid <= 1) return;
  let entries = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch (error) {
    return;
  }
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync('/proc/' + entry + '/stat', 'utf8');
    } catch (error) {
      continue; // gone meanwhile
    }
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]) !== sid) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
    } catch (error) {
      // gone meanwhile
    }
  }
}
function step(command, stdin, timeoutMs, done, stream, kept) {
  const builtin = builtins[command.argv[0]];
  if (builtin) {
    let answer;
    try {
      answer = builtin(command.argv.slice(1), stdin, kept);
    } catch (error) {
      return done(70, Buffer.alloc(0), Buffer.from(String(error && error.message)));
    }
    return done(answer[0], Buffer.from(answer[1]), Buffer.from(answer[2] || ''));
  }
  // A step that needs directories (git inside a project's repository) ends with 125 when one is missing, and one that
  // must not find a path (git init where no repository is) when it is there, in both cases not started.
  for (const dir of command.requires || []) {
    let isDir = false;
    try {
      isDir = fs.statSync(dir).isDirectory();
    } catch (error) {
      // missing
    }
    if (!isDir) return done(125, Buffer.alloc(0), Buffer.alloc(0));
  }
  for (const path of command.absent || []) {
    let there = true;
    try {
      fs.lstatSync(path);
    } catch (error) {
      there = false;
    }
    if (there) return done(125, Buffer.alloc(0), Buffer.alloc(0));
  }
  const out = [];
  const err = [];
  let finished = false;
  let killer;
  let watchdog;
  const finish = (code) => {
    if (finished) return;
    finished = true;
    clearTimeout(killer);
    clearTimeout(watchdog);
    done(code, Buffer.concat(out), Buffer.concat(err));
  };
  let child;
  try {
    child = spawn(command.argv[0], command.argv.slice(1), {
      cwd: command.cwd || undefined,
      env: Object.assign({}, process.env, command.env || {}),
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    err.push(Buffer.from(String(error && error.message)));
    return finish(127);
  }
  child.on('error', (error) => {
    err.push(Buffer.from(String(error && error.message)));
    finish(127);
  });
  child.stdout.on('data', (chunk) => (stream ? stream(1, chunk) : out.push(chunk)));
  child.stderr.on('data', (chunk) => (stream ? stream(2, chunk) : err.push(chunk)));
  // EPIPE/ECONNRESET on a killed command's pipes: its exit reports it; unhandled, it would end the helper.
  for (const pipe of [child.stdin, child.stdout, child.stderr]) pipe.on('error', () => undefined);
  child.stdin.end(stdin);
  killer = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch (error) {
      // already gone
    }
  }, Math.max(0, timeoutMs));
  // An agent run's bound (agent.ts): its CLI's session is killed, the step itself goes on (it cleans up after it).
  if (command.watch) watchdog = setTimeout(() => killSession(command.watch.pidFile), Math.max(0, command.watch.afterMs));
  child.on('close', (code, signal) => finish(code === null ? 128 + (constants.signals[signal] || 0) : code));
}
// The last line of a streamed step's stdout that is a stream-json result (the CLI's), for '@commit-message -'.
const { StringDecoder } = require('string_decoder');
function resultKeeper(kept) {
  const utf8 = new StringDecoder('utf8');
  let partial = '';
  const look = (line) => {
    if (!line.includes('"result"')) return;
    try {
      const parsed = JSON.parse(line.trim());
      if (parsed && typeof parsed === 'object' && parsed.type === 'result') kept.result = line;
    } catch (error) {
      // not JSON: not a result line
    }
  };
  return {
    chunk(data) {
      const lines = (partial + utf8.write(data)).split('\n');
      partial = lines.pop();
      for (const line of lines) look(line);
    },
    end() {
      look(partial + utf8.end());
      partial = '';
    },
  };
}
function run(request, stdin) {
  inflight++;
  clearTimeout(idle);
  const deadline = Date.now() + request.timeoutMs;
  const results = [];
  const bodies = [];
  const kept = { result: null };
  const keeper = request.stream ? resultKeeper(kept) : null;
  const answer = () => {
    process.stdout.write(frame({ id: request.id, results }, Buffer.concat(bodies)));
    inflight--;
    if (ended && inflight === 0) process.exit(0);
    arm();
  };
  const next = (i, failed) => {
    if (i >= request.steps.length) return answer();
    const command = request.steps[i];
    if (failed && !command.always) return next(i + 1, failed);
    // A streamed request streams its first step (an agent run); the steps after it (its commit, reads) answer whole.
    const stream =
      request.stream && i === 0
        ? (fd, chunk) => {
            if (fd === 1) keeper.chunk(chunk);
            process.stdout.write(frame({ id: request.id, fd }, chunk));
          }
        : undefined;
    step(
      command,
      i === 0 ? stdin : Buffer.alloc(0),
      deadline - Date.now(),
      (code, out, err) => {
        if (stream) keeper.end();
        results.push({ code, out: out.length, err: err.length });
        bodies.push(out, err);
        next(i + 1, failed || (code !== 0 && !command.mayFail));
      },
      stream,
      kept,
    );
  };
  next(0, false);
}
// A large request (a file's content) comes in many pipe reads: they are kept as they come and joined once the frame
// is complete, not joined on every read (that copies the whole request again for each 64 KiB).
process.stdin.on('data', (chunk) => {
  pending.push(chunk);
  buffered += chunk.length;
  if (buffered < needed) return;
  let input = Buffer.concat(pending);
  needed = 8;
  while (input.length >= 8) {
    const headerLength = input.readUInt32BE(0);
    const bodyLength = input.readUInt32BE(4);
    if (input.length < 8 + headerLength + bodyLength) {
      needed = 8 + headerLength + bodyLength;
      break;
    }
    const request = JSON.parse(input.subarray(8, 8 + headerLength).toString('utf8'));
    const body = input.subarray(8 + headerLength, 8 + headerLength + bodyLength);
    input = input.subarray(8 + headerLength + bodyLength);
    run(request, body);
  }
  pending = input.length ? [input] : [];
  buffered = input.length;
});
process.stdin.on('end', () => {
  ended = true;
  if (inflight === 0) process.exit(0);
});
arm();
`.replace('@BUILTINS@', () => BUILTINS_SOURCE);

export interface HelperStep {
  /**
   * A command, or one of the helper's own steps (`@scope`, `@projects`, `@probe`, `@commit-message`, `@remove`: see
   * BUILTINS_SOURCE), which a running helper does without a process start and a sandbox without one runs as a
   * `node -e BUILTIN_RUNNER` exec (client.ts).
   */
  argv: string[];
  env?: Record<string, string>;
  workdir?: string;
  /** Go on with the next step even when this one exits non-zero (otherwise the request ends there). */
  mayFail?: boolean;
  /** Run even after a step that failed and may not have (the others after it are skipped). */
  always?: boolean;
  /** Directories that must exist, else the step ends with 125 without being started (git in a project's repository). */
  requires?: string[];
  /** Paths that must not exist, else the step ends with 125 without being started (`git init` where there is none). */
  absent?: string[];
  /**
   * A watchdog for a started command (an agent run): `afterMs` after its start, the helper SIGKILLs every process of
   * the session whose leader's id is in `pidFile` (as `pkill -s` would), and the command goes on (to clean up after
   * it). No process is started for it, and it holds even when the backend that asked has gone away.
   */
  watch?: { pidFile: string; afterMs: number };
}

export interface HelperCommand {
  /** Run one after another; the results of those that ran come back together. */
  steps: HelperStep[];
  /** The first step's stdin. */
  stdin?: Uint8Array;
  /** For all the steps together: the helper kills the running step's session when it is over. */
  timeoutMs: number;
}

export interface HelperResult {
  exitCode: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
}

export interface StreamedCommand {
  stdout: ReadableStream<string>;
  stderr: ReadableStream<string>;
  wait(): Promise<number>;
  /** The results of the steps that ran after it (none when it failed, or when a step that may not fail failed). */
  rest: Promise<HelperResult[]>;
  /** Resolves when the request has reached the sandbox (for a caller that bounds the start of a command). */
  sent: Promise<void>;
}

/** A text stream fed by pushes of bytes (decoded as UTF-8 across chunk boundaries). */
function textStream() {
  const utf8 = new TextDecoder();
  let controller!: ReadableStreamDefaultController<string>;
  const readable = new ReadableStream<string>({ start: (c) => void (controller = c) });
  return {
    readable,
    push: (data: Uint8Array) => controller.enqueue(utf8.decode(data, { stream: true })),
    end: () => {
      const rest = utf8.decode();
      if (rest) controller.enqueue(rest);
      controller.close();
    },
    fail: (error: Error) => controller.error(error),
  };
}

/** The helper went away before answering: the command may be run another way (see the module doc). */
export class HelperGoneError extends Error {
  override readonly name = 'HelperGoneError';
}

interface Pending {
  /** For a streamed command: its output as it comes (fd 1 stdout, 2 stderr); the result then has none. */
  onData?: (fd: 1 | 2, data: Uint8Array) => void;
  resolve(results: HelperResult[]): void;
  reject(error: Error): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function frame(header: object, body: Uint8Array): Uint8Array {
  const h = encoder.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, h.length);
  view.setUint32(4, body.length);
  out.set(h, 8);
  out.set(body, 8 + h.length);
  return out;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** One helper process in one sandbox (see the module doc). */
class Connection {
  private readonly pending = new Map<number, Pending>();
  private queue: { frame: Uint8Array; sent: () => void }[] = [];
  private writing = false;
  private nextId = 1;
  private dead: Error | null = null;
  answered = 0;
  /** It ended itself for want of work (not a failure: the next command starts another). */
  idledOut = false;

  constructor(
    private readonly proc: ContainerProcess<Uint8Array>,
    private readonly writer: WritableStreamDefaultWriter<Uint8Array>,
    private readonly onGone: (connection: Connection) => void,
  ) {
    void this.read();
  }

  get alive(): boolean {
    return this.dead === null;
  }

  /** `done`: the results; `sent`: the request reached the sandbox (its TaskExecStdinWrite was answered). */
  send(command: HelperCommand, onData?: Pending['onData']): { done: Promise<HelperResult[]>; sent: Promise<void> } {
    if (this.dead) {
      const gone = Promise.reject(this.dead);
      gone.catch(() => undefined);
      return { done: gone, sent: gone };
    }
    const id = this.nextId++;
    const header = {
      id,
      timeoutMs: command.timeoutMs,
      ...(onData ? { stream: true } : {}),
      steps: command.steps.map((s) => ({
        argv: s.argv,
        ...(s.env ? { env: s.env } : {}),
        ...(s.workdir ? { cwd: s.workdir } : {}),
        ...(s.mayFail ? { mayFail: true } : {}),
        ...(s.always ? { always: true } : {}),
        ...(s.requires ? { requires: s.requires } : {}),
        ...(s.absent ? { absent: s.absent } : {}),
        ...(s.watch ? { watch: s.watch } : {}),
      })),
    };
    let sent!: () => void;
    const delivered = new Promise<void>((resolve) => (sent = resolve));
    const done = new Promise<HelperResult[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(onData ? { onData } : {}) });
      this.queue.push({ frame: frame(header, command.stdin ?? new Uint8Array(0)), sent });
      this.flush();
    });
    // A request that never reaches the sandbox fails with the rest when the helper is found gone.
    const reached = Promise.race([delivered, done.then(() => undefined)]);
    reached.catch(() => undefined); // awaited by those who ask; `done` carries the failure to everyone else
    return { done, sent: reached };
  }

  /** Ends the helper (stdin EOF: it exits once its commands are done). */
  close(): void {
    if (this.dead) return;
    this.die(new HelperGoneError('the helper was closed'));
    this.writer.close().catch(() => undefined);
  }

  private flush(): void {
    if (this.writing || this.queue.length === 0 || this.dead) return;
    const batch = this.queue;
    this.queue = [];
    this.writing = true;
    this.writer.write(concat(batch.map((q) => q.frame))).then(
      () => {
        for (const q of batch) q.sent();
        this.writing = false;
        this.flush();
      },
      (error: unknown) => this.die(new HelperGoneError(`writing to the helper failed: ${(error as Error)?.message ?? String(error)}`)),
    );
  }

  private async read(): Promise<void> {
    const reader = this.proc.stdout.getReader();
    // Chunks are kept as they come and joined once a frame is complete (a large answer, a file's content, comes in
    // many: joining on each one would copy the whole answer again every time).
    let chunks: Uint8Array[] = [];
    let length = 0;
    let needed = 8;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
        length += value.length;
        if (length < needed) continue;
        let buffered = concat(chunks);
        needed = 8;
        while (buffered.length >= 8) {
          const view = new DataView(buffered.buffer, buffered.byteOffset, buffered.byteLength);
          const headerLength = view.getUint32(0);
          const bodyLength = view.getUint32(4);
          if (buffered.length < 8 + headerLength + bodyLength) {
            needed = 8 + headerLength + bodyLength;
            break;
          }
          const header = JSON.parse(decoder.decode(buffered.subarray(8, 8 + headerLength))) as {
            id: number;
            idle?: boolean;
            fd?: 1 | 2;
            results: { code: number; out: number; err: number }[];
          };
          const body = buffered.subarray(8 + headerLength, 8 + headerLength + bodyLength);
          buffered = buffered.subarray(8 + headerLength + bodyLength);
          if (header.idle) {
            this.idledOut = true;
            continue;
          }
          if (header.fd) {
            this.pending.get(header.id)?.onData?.(header.fd, new Uint8Array(body));
            continue;
          }
          const waiting = this.pending.get(header.id);
          this.pending.delete(header.id);
          this.answered++;
          let at = 0;
          // Copies into plain Uint8Arrays: the SDK's chunks may be Buffers, whose slice() is a view (a caller that
          // copies with slice() and edits the copy would edit the answer).
          const results = header.results.map((r) => {
            const stdout = new Uint8Array(body.subarray(at, (at += r.out)));
            const stderr = new Uint8Array(body.subarray(at, (at += r.err)));
            return { exitCode: r.code, stdout, stderr };
          });
          waiting?.resolve(results);
        }
        chunks = buffered.length ? [buffered] : [];
        length = buffered.length;
      }
      this.die(new HelperGoneError('the helper exited'));
    } catch (error) {
      this.die(new HelperGoneError(`the helper's output broke off: ${(error as Error)?.message ?? String(error)}`));
    } finally {
      reader.releaseLock();
    }
  }

  private die(error: Error): void {
    if (this.dead) return;
    this.dead = error;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
    this.queue = [];
    this.onGone(this);
  }
}

export interface SandboxHelperOptions {
  /** How long the helper waits for a request before it ends itself. */
  idleMs: number;
  /** Bound on starting it (one TaskExecStart). */
  rpcMs: number;
}

/** The helper of one sandbox: started on demand, restarted after it has gone, given up on if it cannot start. */
export class SandboxHelper {
  private connection: Promise<Connection | null> | null = null;
  private disabled = false;

  constructor(
    private readonly sandbox: Sandbox,
    private readonly options: SandboxHelperOptions,
  ) {}

  /** Starts the helper if it is not running (the pool calls this when it makes or attaches a sandbox). */
  start(): void {
    void this.connect();
  }

  /** Starts the helper if it is not running, and waits until it is (or is found unable to run here). */
  async ready(): Promise<void> {
    await this.live();
  }

  /**
   * Runs a command through the helper; null when there is no helper on this sandbox (the caller execs instead).
   * Rejects with HelperGoneError when the helper went away after the command was sent.
   */
  async run(command: HelperCommand): Promise<HelperResult[] | null> {
    const connection = await this.live();
    return connection ? connection.send(command).done : null;
  }

  /**
   * Starts one command whose output is wanted as it comes (an agent run): its stdout and stderr as text streams, its
   * exit status when it ends. Null when there is no helper on this sandbox. The streams fail with HelperGoneError if
   * the helper goes away first; the command is never run twice. `after`: steps run in the same request once it has
   * exited 0 (stopping as a request's steps do), answered whole with its exit.
   */
  async spawn(step: HelperStep, stdin: Uint8Array, timeoutMs: number, after: HelperStep[] = []): Promise<StreamedCommand | null> {
    const connection = await this.live();
    if (!connection) return null;
    const streams = [textStream(), textStream()] as const;
    const { done, sent } = connection.send({ steps: [step, ...after], stdin, timeoutMs }, (fd, data) => streams[fd - 1]?.push(data));
    const exit = done.then(
      ([result]) => {
        for (const s of streams) s.end();
        return result?.exitCode ?? 127;
      },
      (error: Error) => {
        for (const s of streams) s.fail(error);
        throw error;
      },
    );
    exit.catch(() => undefined); // the caller learns it from the streams (or from wait())
    const rest = done.then((results) => results.slice(1));
    rest.catch(() => undefined);
    return { stdout: streams[0].readable, stderr: streams[1].readable, wait: () => exit, rest, sent };
  }

  /** The running helper, started (or started again: it idled out or died since) if need be; null: none here. */
  private async live(): Promise<Connection | null> {
    const connection = await this.connect();
    return connection && !connection.alive ? this.reconnect() : connection;
  }

  close(): void {
    this.disabled = true;
    const connection = this.connection;
    this.connection = null;
    void connection?.then((c) => c?.close());
  }

  private connect(): Promise<Connection | null> {
    if (this.disabled) return Promise.resolve(null);
    this.connection ??= this.open();
    return this.connection;
  }

  private reconnect(): Promise<Connection | null> {
    this.connection = null;
    return this.connect();
  }

  private async open(): Promise<Connection | null> {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    let proc: ContainerProcess<Uint8Array>;
    try {
      const exec = this.sandbox.exec(['node', '-e', HELPER_SCRIPT, String(this.options.idleMs)], { mode: 'binary', stdout: 'pipe', stderr: 'ignore' });
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new HelperGoneError('the helper did not start in time')), this.options.rpcMs);
        timer.unref?.();
      });
      proc = await Promise.race([exec, late]);
    } catch {
      // The sandbox may be gone (the plain exec will say so) or Modal slow: try again on the next command.
      this.connection = null;
      return null;
    } finally {
      clearTimeout(timer);
    }
    const mine = this.connection;
    return new Connection(proc, proc.stdin.getWriter(), (connection) => {
      if (this.connection !== mine || this.disabled) return;
      this.connection = null;
      if (connection.idledOut) return; // the next command starts another
      // A helper that ended at once without answering cannot run here (no node in the image): stop trying on this
      // sandbox. One that worked and then died (killed, out of memory) is replaced now, off the next command's path.
      if (connection.answered === 0 && Date.now() - started < this.options.idleMs) this.disabled = true;
      else this.start();
    });
  }
}
