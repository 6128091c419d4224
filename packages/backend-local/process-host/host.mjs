/**
 * The local backend's process host: a small Node process that starts the backend's child processes (git, the
 * Claude CLI in bubblewrap) on the server's behalf.
 *
 * Why: Linux starts a child by fork(), which copies the parent's page tables while the parent's event loop waits.
 * In a server holding a few hundred MB that is ~20–30 ms per spawn (measured: 5 ms at 47 MB RSS, 27 ms at 577 MB),
 * and 50 jobs committing their versions spawn hundreds of git processes: every WebSocket stalls. This process stays
 * small, so its forks are cheap, and they stall nobody but itself.
 *
 * Plain JavaScript, started with no loader flags, so it runs the same from src (tsx, vitest) and from dist.
 *
 * Messages from the backend (process.send, advanced serialization so Buffers pass as they are):
 *   {op: 'run', id, file, args, options}    run to completion; reply {id, op: 'result', exitCode, signal, stdout, stderr, message}
 *   {op: 'spawn', id, file, args, options}  start; reply {id, op: 'stream', fd} with the pipe itself as the message's
 *                                           handle, for fd 1, 2 (and 3), then {id, op: 'spawned', pid}, later {id, op: 'exit', …}
 *                                           (the output does not pass through here: the backend reads the child's pipes)
 *   {op: 'lowerPriority', pid, niceness}     the session of a process started further down (a sandbox's own); no reply
 * `options`: cwd, env, detached, extraFd (a pipe on fd 3, e.g. bubblewrap's --info-fd), maxBuffer, niceness.
 * If the backend goes away (its IPC channel closes), everything started here is killed and the host exits.
 */
import { spawn as startChild } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { execa } from 'execa';

/**
 * @typedef {{ cwd?: string, env?: Record<string, string>, detached?: boolean, extraFd?: boolean, maxBuffer?: number, niceness?: number }} Options
 * @typedef {{ id: number, file: string, args: string[], options: Options }} Request
 * @typedef {{ op: 'run' | 'spawn', id: number, file: string, args: string[], options: Options }
 *   | { op: 'lowerPriority', id?: number, pid: number, niceness: number }} Message
 */

/** Processes started with `spawn` that are still running, by request id. @type {Map<number, { child: import('node:child_process').ChildProcess, detached: boolean }>} */
const running = new Map();

/**
 * To the backend (this process always has its IPC channel: the backend forks it).
 * @param {Record<string, unknown>} message
 * @param {import('node:child_process').SendHandle} [handle]
 */
function send(message, handle) {
  process.send?.(message, handle);
}

/** @param {{ exitCode?: number, signal?: string | null, message?: string, shortMessage?: string }} result */
function exitFields(result) {
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    // A process that could not be started at all has no exit code and no signal: say why.
    message: result.exitCode === undefined && !result.signal ? String(result.message ?? result.shortMessage ?? 'could not start') : null,
  };
}

/**
 * The exit of something that never started.
 * @param {any} error
 */
function notStarted(error) {
  return { exitCode: null, signal: null, message: String(error?.message ?? error) };
}

/**
 * This host runs at the backend's lower CPU priority (the backend sets it when it starts the host), and every child
 * inherits it at fork: when agents and git saturate the machine, the server, which carries every user's stream, still
 * gets the CPU first. But a detached child leads a new session, and Linux's autogroup scheduler gives every session an
 * equal share of the CPU whatever the nice values inside it: so the session's own priority is lowered too.
 */
/**
 * @param {number | undefined} pid
 * @param {number | undefined} niceness
 */
function lowerSessionPriority(pid, niceness) {
  if (!pid || !niceness) return;
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(niceness));
  } catch {
    /* gone already, no autogroup support, or not permitted: it only costs responsiveness */
  }
}

/** @param {Request} request */
async function run({ id, file, args, options }) {
  const result = await execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    stdin: 'ignore',
    encoding: 'buffer',
    stripFinalNewline: false, // exact bytes: a file read from history keeps its last newline
    reject: false,
    maxBuffer: options.maxBuffer ?? 256 * 1024 * 1024,
  });
  send({ id, op: 'result', ...exitFields(result), stdout: Buffer.from(result.stdout ?? []), stderr: Buffer.from(result.stderr ?? []) });
}

// node:child_process rather than execa here: the child's pipes are handed over to the backend (sent as handles), so
// nothing in this process may read them or wait for them to end.
/** @param {Request} request */
function spawn({ id, file, args, options }) {
  const detached = Boolean(options.detached);
  const child = startChild(file, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe', options.extraFd ? 'pipe' : 'ignore'],
    detached,
  });
  if (child.pid === undefined) {
    child.once('error', (error) => send({ id, op: 'exit', ...notStarted(error) }));
    return;
  }
  child.on('error', () => undefined); // a failed kill; the exit is reported below
  for (const fd of options.extraFd ? [1, 2, 3] : [1, 2]) {
    // Node starts reading a child's pipe as soon as it wraps it; what it read here would be lost to the backend.
    // Stopping now, before this turn of the event loop ends, leaves every byte in the pipe for the backend.
    const pipe = /** @type {import('node:net').Socket & { _handle?: { readStop(): void } }} */ (child.stdio[fd]);
    pipe._handle?.readStop();
    send({ id, op: 'stream', fd }, pipe); // handed over, and closed here once sent
  }
  if (detached) lowerSessionPriority(child.pid, options.niceness);
  running.set(id, { child, detached });
  send({ id, op: 'spawned', pid: child.pid });
  child.once('exit', (code, signal) => {
    running.delete(id);
    send({ id, op: 'exit', exitCode: code, signal, message: null });
  });
}

process.on('message', (/** @type {Message} */ message) => {
  if (message.op === 'run') {
    run(message).catch((error) => send({ id: message.id, op: 'result', ...notStarted(error), stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }));
  } else if (message.op === 'lowerPriority') {
    lowerSessionPriority(message.pid, message.niceness);
  } else if (message.op === 'spawn') {
    try {
      spawn(message);
    } catch (error) {
      send({ id: message.id, op: 'exit', ...notStarted(error) });
    }
  }
});

process.on('disconnect', () => {
  for (const { child, detached } of running.values()) {
    try {
      // A detached child leads its own process group: take the group (the CLI's tools with it).
      if (child.pid) process.kill(detached ? -child.pid : child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  process.exit(0);
});
