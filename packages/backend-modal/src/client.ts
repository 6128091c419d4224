/**
 * The Modal SDK client, made once per backend, and the handful of helpers everything else uses to run a command in
 * a sandbox and to recognise the SDK's errors.
 *
 * The SDK is imported lazily: importing @dreamcore/backend-modal costs nothing and reads no Modal config until a
 * backend is created. In modal 0.11.1 `ModalClientParams.endpoint` is declared but never read; the server URL only
 * comes from MODAL_SERVER_URL or a profile, read while the client is constructed. So the configured URL is put in
 * the environment for the (synchronous) constructor only, and the previous value restored right after.
 */
import type { ModalClient, Sandbox } from 'modal';
import { createError } from '@dreamcore/runtime-core';
import type { ResolvedModalConfig } from './config.js';

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

/** A sandbox went away under an operation (terminated, timed out, idle-reaped, or never reachable again). */
export class SandboxGoneError extends Error {
  override readonly name = 'SandboxGoneError';
}

/**
 * Whether an SDK error means "this sandbox is gone": the operation may be retried once on a fresh sandbox.
 * Checked structurally, so it does not depend on which copy of the SDK (or nice-grpc) threw.
 */
export function isSandboxGone(error: unknown): boolean {
  if (error instanceof SandboxGoneError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; constructor?: { name?: string }; message?: unknown; code?: unknown };
  const name = typeof e.name === 'string' && e.name !== 'Error' ? e.name : (e.constructor?.name ?? '');
  const message = typeof e.message === 'string' ? e.message : '';
  if (name === 'ClientClosedError') return true;
  if (name === 'NotFoundError' && /sandbox/i.test(message)) return true;
  // nice-grpc ClientError from the task command router: NOT_FOUND (5) "Sandbox … has already finished",
  // or the task's router being unreachable once the sandbox is gone.
  if (name === 'ClientError' && e.code === 5 && /sandbox|task/i.test(message)) return true;
  if (/has already (finished|shut down)|Sandbox is unavailable|no longer running/i.test(message)) return true;
  return false;
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
  timeoutMs?: number;
}

const decoder = new TextDecoder();

/**
 * Runs a command to completion: one TaskExecStart, then stdout, stderr and the exit status read in parallel
 * (4 RPCs, 2 round trips in sequence). An exit by signal is checked against the sandbox's own state, so a
 * sandbox that died under the command surfaces as SandboxGoneError, not as the command's failure.
 */
export async function execBinary(sandbox: Sandbox, argv: string[], options: ExecOptions = {}): Promise<ExecResult<Uint8Array>> {
  const proc = await sandbox.exec(argv, {
    mode: 'binary',
    stdout: 'pipe',
    stderr: 'pipe',
    ...(options.env ? { env: options.env } : {}),
    ...(options.workdir ? { workdir: options.workdir } : {}),
    ...(options.timeoutMs ? { timeoutMs: Math.ceil(options.timeoutMs / 1000) * 1000 } : {}),
  });
  const feeding = options.stdin === undefined ? Promise.resolve() : feed(proc.stdin, options.stdin);
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.readBytes(), proc.stderr.readBytes(), proc.wait(), feeding]);
  if (exitCode >= 128) await throwIfGone(sandbox);
  return { exitCode, stdout, stderr: decoder.decode(stderr) };
}

export async function execText(sandbox: Sandbox, argv: string[], options: ExecOptions = {}): Promise<ExecResult<string>> {
  const r = await execBinary(sandbox, argv, options);
  return { ...r, stdout: decoder.decode(r.stdout) };
}

async function feed(stdin: WritableStream<Uint8Array>, data: Uint8Array | string): Promise<void> {
  const writer = stdin.getWriter();
  try {
    await writer.write(typeof data === 'string' ? new TextEncoder().encode(data) : data);
    await writer.close();
  } finally {
    writer.releaseLock();
  }
}

/** One SandboxWaitV2 with a zero timeout: throws SandboxGoneError when the sandbox has finished. */
export async function throwIfGone(sandbox: Sandbox): Promise<void> {
  let finished: number | null;
  try {
    finished = await sandbox.poll();
  } catch (error) {
    if (isSandboxGone(error)) throw new SandboxGoneError('the sandbox is gone', { cause: error });
    throw error;
  }
  if (finished !== null) throw new SandboxGoneError(`the sandbox ended (exit ${finished})`);
}

/** The contract error for a sandbox that could not be kept alive or reached. */
export function sandboxError(error: unknown, what: string) {
  return createError('SANDBOX_ERROR', `${what}: the user's sandbox ended or could not be reached (${(error as Error)?.message ?? String(error)})`, {
    cause: error,
    recoverable: true,
  });
}
