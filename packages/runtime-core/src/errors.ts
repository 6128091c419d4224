/**
 * One typed error family for every backend. Callers branch on `code` (stable strings), never on messages.
 * The server maps `status` to HTTP and `code` to WebSocket `failed.code`.
 */

export const ERROR_CODES = {
  // Input and scope
  INVALID_ARGUMENT: { status: 400, recoverable: false },
  INVALID_SCOPE: { status: 400, recoverable: false },
  INVALID_PATH: { status: 400, recoverable: false },
  ACCESS_DENIED: { status: 403, recoverable: false },
  NOT_FOUND: { status: 404, recoverable: false },
  CONFLICT: { status: 409, recoverable: true },
  TOO_LARGE: { status: 413, recoverable: false },
  // Availability
  UNSUPPORTED: { status: 501, recoverable: false },
  UNAVAILABLE: { status: 503, recoverable: true },
  NOT_CONFIGURED: { status: 503, recoverable: false },
  TIMEOUT: { status: 504, recoverable: true },
  CANCELLED: { status: 499, recoverable: true },
  INTERNAL: { status: 500, recoverable: false },
  // Agent run (codes kept from DreamCore-V2's `failed.code`)
  CLI_TIMEOUT: { status: 504, recoverable: true },
  CLI_KILLED: { status: 500, recoverable: true },
  CLI_TERMINATED: { status: 500, recoverable: true },
  CLI_GENERAL_ERROR: { status: 500, recoverable: false },
  CLI_UNKNOWN_ERROR: { status: 500, recoverable: false },
  CLI_SPAWN_ERROR: { status: 500, recoverable: false },
  SANDBOX_ERROR: { status: 500, recoverable: false },
  NETWORK_ERROR: { status: 502, recoverable: true },
  AUTH_ERROR: { status: 502, recoverable: false },
  RATE_LIMIT: { status: 429, recoverable: true },
  API_TIMEOUT: { status: 504, recoverable: true },
  // Media
  SAFETY_BLOCKED: { status: 422, recoverable: false },
  MALFORMED_RESPONSE: { status: 502, recoverable: true },
  RENDER_ERROR: { status: 500, recoverable: false },
} as const satisfies Record<string, { status: number; recoverable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface BackendErrorOptions {
  cause?: unknown;
  /** Machine-readable context (never secrets): the offending path, the limit, the exit code, ... */
  details?: Record<string, unknown>;
  /** Overrides the code's default. */
  recoverable?: boolean;
}

export class BackendError extends Error {
  override readonly name = 'BackendError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly recoverable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: BackendErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.recoverable = options.recoverable ?? ERROR_CODES[code].recoverable;
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; recoverable: boolean; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, recoverable: this.recoverable, details: this.details };
  }
}

/** The one way to make a contract error (like unstorage's `createError`). */
export function createError(code: ErrorCode, message: string, options?: BackendErrorOptions): BackendError {
  return new BackendError(code, message, options);
}

export function isBackendError(value: unknown, code?: ErrorCode): value is BackendError {
  // Checked structurally too, so errors survive a second copy of this package in node_modules.
  if (!(value instanceof BackendError)) {
    if (typeof value !== 'object' || value === null) return false;
    const v = value as { name?: unknown; code?: unknown };
    if (v.name !== 'BackendError' || typeof v.code !== 'string' || !Object.hasOwn(ERROR_CODES, v.code)) return false;
  }
  return code === undefined || (value as BackendError).code === code;
}

export function unsupported(capability: string, backendName: string): BackendError {
  return createError('UNSUPPORTED', `${capability} is not supported by the ${backendName} backend`, {
    details: { capability, backend: backendName },
  });
}

/** Exit codes of the agent process, mapped the way DreamCore-V2 clients expect. */
export function errorCodeForExit(exitCode: number | null, signal?: string | null): ErrorCode {
  if (exitCode === 124) return 'CLI_TIMEOUT';
  if (exitCode === 137 || signal === 'SIGKILL') return 'CLI_KILLED';
  if (exitCode === 143 || signal === 'SIGTERM') return 'CLI_TERMINATED';
  if (exitCode === null) return 'CLI_UNKNOWN_ERROR';
  return 'CLI_GENERAL_ERROR';
}
