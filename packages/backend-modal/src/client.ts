/**
 * The Modal SDK client, made once per backend, and the helpers everything else uses to run a command in a sandbox,
 * to bound every wait, and to turn whatever the SDK or gRPC threw into a contract error.
 *
 * The SDK is imported lazily: importing @dreamcore/backend-modal costs nothing and reads no Modal config until a
 * backend is created. In modal 0.11.1 `ModalClientParams.endpoint` is declared but never read; the server URL only
 * comes from MODAL_SERVER_URL or a profile, read while the client is constructed. So the configured URL is put in
 * the environment for the (synchronous) constructor only, and the previous value restored right after.
 *
 * Errors are classified by gRPC status code and SDK error class, never by message text: Modal does not promise its
 * wording (and the emulator varies it on purpose).
 */
import type { ModalClient, Sandbox } from 'modal';
import { createError, isBackendError, type BackendError } from '@dreamcore/runtime-core';
import type { ResolvedModalConfig } from './config.js';
import { BUILTIN_RUNNER, HelperGoneError, type HelperResult, type HelperStep, type SandboxHelper } from './helper.js';

export type ModalSdk = typeof import('modal');

let sdk: Promise<ModalSdk> | undefined;

export function loadSdk(): Promise<ModalSdk> {
  sdk ??= import('modal');
  return sdk;
}

export async function createModalClient(config: ResolvedModalConfig): Promise<{ sdk: ModalSdk; client: ModalClient }> {
  const modal = await loadSdk();
  const previous = process.env.MODAL_SERVER_URL;
  process.env.MODAL_SERVER_URL = config.serverUrl;
  try {
    const client = new modal.ModalClient({
      tokenId: config.tokenId,
      tokenSecret: config.tokenSecret,
      ...(config.environment ? { environment: config.environment } : {}),
      logLevel: config.sdkLogLevel,
    });
    return { sdk: modal, client };
  } finally {
    if (previous === undefined) delete process.env.MODAL_SERVER_URL;
    else process.env.MODAL_SERVER_URL = previous;
  }
}

/** gRPC status codes (the numbers are the protocol's; nice-grpc's ClientError carries them as `code`). */
const GRPC = {
  CANCELLED: 1,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** Node's own network failures, for the rare one that reaches us unwrapped. */
const NETWORK_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/** The class name an SDK error was made with (`NotFoundError`, `ClientError`, ...), whichever copy of the SDK threw it. */
export function errorClass(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const e = error as { name?: unknown; constructor?: { name?: string } };
  return typeof e.name === 'string' && e.name !== 'Error' ? e.name : (e.constructor?.name ?? '');
}

function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * The contract error for a failure of Modal itself (anything the SDK or gRPC threw). `what` names the operation.
 * Transport trouble is NETWORK_ERROR, refused credentials NOT_CONFIGURED, quota RATE_LIMIT; the rest is
 * SANDBOX_ERROR. Contract errors pass through unchanged.
 */
export function modalFailure(error: unknown, what: string): BackendError {
  if (isBackendError(error)) return error;
  const name = errorClass(error);
  const code = grpcCode(error);
  const errno = (error as { code?: unknown } | null)?.code;
  const reason = error instanceof Error ? error.message : String(error);
  const details = { operation: what, ...(code === undefined ? {} : { grpcStatus: code }) };
  if (
    code === GRPC.UNAVAILABLE ||
    code === GRPC.DEADLINE_EXCEEDED ||
    code === GRPC.CANCELLED ||
    code === GRPC.ABORTED ||
    (typeof errno === 'string' && NETWORK_ERRNO.has(errno))
  ) {
    return createError('NETWORK_ERROR', `${what}: Modal could not be reached (${reason})`, { cause: error, details });
  }
  if (code === GRPC.UNAUTHENTICATED || code === GRPC.PERMISSION_DENIED) {
    return createError('NOT_CONFIGURED', `${what}: Modal refused this deployment's credentials (MODAL_TOKEN_ID / MODAL_TOKEN_SECRET)`, {
      cause: error,
      details,
    });
  }
  if (code === GRPC.RESOURCE_EXHAUSTED || name === 'ResourceExhaustedError') {
    return createError('RATE_LIMIT', `${what}: Modal refused for now (quota or rate limit)`, { cause: error, details });
  }
  if (name === 'ClientClosedError') return createError('UNAVAILABLE', `${what}: the Modal client is closed`, { cause: error, details });
  if (name === 'TimeoutError' || name === 'SandboxTimeoutError') {
    return createError('TIMEOUT', `${what}: Modal did not finish in time (${reason})`, { cause: error, details });
  }
  return createError('SANDBOX_ERROR', `${what}: Modal failed (${reason})`, { cause: error, details, recoverable: true });
}

/** Whether the SDK said "no such object" (by class or status code). */
export function isNotFound(error: unknown): boolean {
  return errorClass(error) === 'NotFoundError' || grpcCode(error) === GRPC.NOT_FOUND;
}

/**
 * Runs `fn` with a deadline: Modal calls that never answer (a network partition, a stuck control plane) fail with
 * NETWORK_ERROR after `ms` instead of hanging the caller. The call itself cannot be withdrawn from the SDK; it is
 * abandoned, and whatever it returns later is dropped.
 */
export function withDeadline<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(createError('NETWORK_ERROR', `${what}: Modal did not answer within ${Math.round(ms / 1000)} s`, { details: { operation: what, deadlineMs: ms } }));
    }, ms);
    timer.unref?.();
    fn().then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** A sandbox went away under an operation (its state says it finished): the operation may run once more elsewhere. */
export class SandboxGoneError extends Error {
  override readonly name = 'SandboxGoneError';
}

export function isSandboxGone(error: unknown): error is SandboxGoneError {
  return error instanceof SandboxGoneError;
}

/**
 * Asks Modal whether the sandbox is still running (one SandboxWaitV2 with a zero timeout), within `deadlineMs`.
 * A sandbox Modal no longer knows is gone too. Any other failure of the question itself is thrown as a contract error.
 */
export async function sandboxIsRunning(sandbox: Sandbox, deadlineMs: number): Promise<boolean> {
  try {
    return (await withDeadline(deadlineMs, 'checking the sandbox', () => sandbox.poll())) === null;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw modalFailure(error, 'checking the sandbox');
  }
}

export interface ExecResult<T extends string | Uint8Array> {
  exitCode: number;
  stdout: T;
  stderr: string;
}

export interface ExecOptions {
  env?: Record<string, string>;
  workdir?: string;
  /** Bytes to feed on stdin (then EOF). */
  stdin?: Uint8Array | string;
  /** Bound on the whole exec, start to exit (the process is also killed inside the sandbox then). */
  timeoutMs: number;
  /** Bound on the one-RPC liveness check after an exit by signal. */
  rpcMs: number;
}

const decoder = new TextDecoder();

/** The command helper of each sandbox that has one (the pool attaches it when it makes or attaches the sandbox). */
const helpers = new WeakMap<Sandbox, SandboxHelper>();

export function attachHelper(sandbox: Sandbox, helper: SandboxHelper): void {
  helpers.set(sandbox, helper);
}

export function helperOf(sandbox: Sandbox): SandboxHelper | undefined {
  return helpers.get(sandbox);
}

/**
 * Runs a command to completion, within `timeoutMs`. Through the sandbox's command helper when it has one (helper.ts:
 * one TaskExecStdinWrite, one round trip); otherwise, or when the helper went away before answering, as an exec of its
 * own: one TaskExecStart, then stdout, stderr and the exit status read in parallel (4 RPCs, 2 round trips in
 * sequence). An exit by signal is checked against the sandbox's own state, so a sandbox that died under the command
 * surfaces as SandboxGoneError, not as the command's failure.
 */
export async function execBinary(sandbox: Sandbox, argv: string[], options: ExecOptions): Promise<ExecResult<Uint8Array>> {
  const { env, workdir } = options;
  const [result] = await execSteps(sandbox, [{ argv, ...(env ? { env } : {}), ...(workdir ? { workdir } : {}) }], options);
  return result!;
}

/**
 * Runs commands one after another, stopping after one that exits non-zero unless it says `mayFail` (but for those
 * marked `always`), and resolves with the results of those that ran. Through the helper that is one round trip for all of them; without it, an exec each.
 * `options.env` / `workdir` are ignored here (each step has its own); `stdin` goes to the first step.
 */
export async function execSteps(sandbox: Sandbox, steps: HelperStep[], options: ExecOptions): Promise<ExecResult<Uint8Array>[]> {
  const bound = Math.ceil(options.timeoutMs / 1000) * 1000;
  // The process is killed inside the sandbox at `bound`; the extra allows for its exit status to come back.
  const deadline = options.timeoutMs + Math.min(options.rpcMs, 5_000);
  const what = `exec ${steps[0]?.argv[0] ?? ''}`;
  const stdin = typeof options.stdin === 'string' ? new TextEncoder().encode(options.stdin) : options.stdin;
  let results: HelperResult[] | null = null;
  const helper = helpers.get(sandbox);
  if (helper) {
    try {
      results = await withDeadline(deadline, what, () => helper.run({ steps, timeoutMs: bound, ...(stdin ? { stdin } : {}) }));
    } catch (error) {
      if (!(error instanceof HelperGoneError)) throw error;
    }
  }
  results ??= await withDeadline(deadline, what, async () => {
    const out: HelperResult[] = [];
    let failed = false;
    for (const [i, step] of steps.entries()) {
      if (failed && !step.always) continue;
      const input = i === 0 ? stdin : undefined;
      const { argv, workdir } = asExec(step, input !== undefined);
      const proc = await sandbox.exec(argv, {
        mode: 'binary',
        stdout: 'pipe',
        stderr: 'pipe',
        timeoutMs: bound,
        ...(step.env ? { env: step.env } : {}),
        ...(workdir ? { workdir } : {}),
      });
      const feeding = input === undefined ? Promise.resolve() : feed(proc.stdin, input);
      const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.readBytes(), proc.stderr.readBytes(), proc.wait(), feeding]);
      out.push({ stdout, stderr, exitCode });
      if (exitCode !== 0 && !step.mayFail) failed = true;
    }
    return out;
  });
  const killed = results.findIndex((r) => r.exitCode >= 128);
  if (killed >= 0 && !(await sandboxIsRunning(sandbox, options.rpcMs))) {
    throw new SandboxGoneError(`the sandbox ended under ${steps[killed]?.argv[0] ?? 'a command'}`);
  }
  return results.map((r) => ({ exitCode: r.exitCode, stdout: r.stdout, stderr: decoder.decode(r.stderr) }));
}

/**
 * `sh -c GUARD 'guard' <n> <m> <workdir> <dir>... <path>... <argv>...`: a step's `requires` (n directories that must
 * exist) and `absent` (m paths that must not) checked before it starts, as the helper does.
 */
const GUARD =
  'n=$1; m=$2; w=$3; shift 3; while [ "$n" -gt 0 ]; do [ -d "$1" ] || exit 125; shift; n=$((n-1)); done; ' +
  'while [ "$m" -gt 0 ]; do { [ -e "$1" ] || [ -L "$1" ]; } && exit 125; shift; m=$((m-1)); done; cd -- "$w" || exit 125; exec "$@"';

/** A helper step as an exec of its own: the helper's own steps through `node -e`, a step's `requires` and `absent` through sh. */
function asExec(step: HelperStep, stdin: boolean): { argv: string[]; workdir?: string } {
  if (step.argv[0]?.startsWith('@')) return { argv: ['node', '-e', BUILTIN_RUNNER, stdin ? '1' : '0', ...step.argv] };
  if (step.requires || step.absent) {
    const [requires, absent] = [step.requires ?? [], step.absent ?? []];
    return { argv: ['sh', '-c', GUARD, 'guard', String(requires.length), String(absent.length), step.workdir ?? '/', ...requires, ...absent, ...step.argv] };
  }
  return { argv: step.argv, ...(step.workdir ? { workdir: step.workdir } : {}) };
}

export async function execText(sandbox: Sandbox, argv: string[], options: ExecOptions): Promise<ExecResult<string>> {
  const r = await execBinary(sandbox, argv, options);
  return { ...r, stdout: decoder.decode(r.stdout) };
}

async function feed(stdin: WritableStream<Uint8Array>, data: Uint8Array): Promise<void> {
  const writer = stdin.getWriter();
  try {
    await writer.write(data);
    await writer.close();
  } finally {
    writer.releaseLock();
  }
}

/** The contract error for a sandbox that died and could not be replaced in time, or died under a run. */
export function sandboxError(error: unknown, what: string): BackendError {
  return createError('SANDBOX_ERROR', `${what}: the user's sandbox ended or could not be reached (${(error as Error)?.message ?? String(error)})`, {
    cause: error,
    recoverable: true,
  });
}

/** Reads a text stream, calling `onLine` per line (without the newline); a last unterminated line counts too. */
export async function readLines(stream: ReadableStream<string>, onLine: (line: string) => void): Promise<void> {
  const reader = stream.getReader();
  let buffered = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        onLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    }
    if (buffered !== '') onLine(buffered);
  } finally {
    reader.releaseLock();
  }
}
