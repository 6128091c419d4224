/**
 * What every conformance file shares: the options a backend author passes, one backend per capability block,
 * fresh scopes per case, and assertions on the typed error.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it, type TestContext } from 'vitest';
import { isBackendError, type ErrorCode } from '../errors.js';
import { pseudoRandomBytes } from '../testkit/migration-data.js';
import type { CapabilityName, ExecutionBackend, FileScope, ProjectScope } from '../contract.js';

/** Where a test symlink points; the backend's harness turns it into a real link target. */
export type SymlinkTarget =
  | { kind: 'project'; scope: ProjectScope } // another project's root (another user's, usually)
  | { kind: 'system'; path: string } // an absolute path on the machine, such as /etc
  | { kind: 'relative'; path: string }; // a literal relative target, such as '../..' or 'index.html'

export interface ConformanceHarness {
  /**
   * Creates a symlink inside a scope, bypassing the contract (as an agent with a shell could).
   * Needed for the symlink-escape cases when `capabilities.files.symlinks` is true.
   */
  symlink?(backend: ExecutionBackend, scope: FileScope, linkPath: string, target: SymlinkTarget): Promise<void>;
  /** The backend talks to the stand-ins the suite starts; enables provider fault-injection cases. */
  fakeProviders?: boolean;
}

/**
 * Local stand-ins the suite starts for the capability under test; the factory points the backend at them.
 * (The agent block starts a scripted model; the image block a fake Gemini.)
 */
export interface FactoryContext {
  /** Upstream Anthropic Messages API (a scripted model server). */
  anthropicBaseUrl?: string;
  /** The provider key the backend must keep away from the agent. */
  anthropicApiKey?: string;
  /** Gemini API base URL (a fake Gemini endpoint) and its key. */
  geminiBaseUrl?: string;
  geminiApiKey?: string;
}

/** The suite's blocks, each named after the capability it checks. */
export type ConformancePart = 'files' | 'git' | 'isolation' | 'runClaude' | 'generateImage' | 'renderVideo' | 'checkGame';

export interface ConformanceOptions {
  /** Shown as `conformance: <name>`. */
  name: string;
  /** Returns a fresh, isolated backend (own data, own processes). Called once per capability block. */
  factory: (context: FactoryContext) => ExecutionBackend | Promise<ExecutionBackend>;
  harness?: ConformanceHarness;
  /** Per-case timeout for slow backends (default 30 s). */
  timeoutMs?: number;
  /**
   * The blocks to run in this test file (all by default). A slow backend splits its suite over several files so
   * they run in parallel; between them the files must cover every part (`otherParts` gives the rest).
   */
  parts?: readonly ConformancePart[];
}

export interface Suite {
  options: ConformanceOptions;
  backend(): ExecutionBackend;
  /** A case that runs only when the capability is supported (reported as skipped otherwise). */
  test(name: string, capability: CapabilityName, fn: (ctx: TestContext) => Promise<void>, timeoutMs?: number): void;
  /** The case that runs only when the capability is declared unsupported: its calls must fail with UNSUPPORTED. */
  testUnsupported(capability: CapabilityName, fn: () => Promise<void>): void;
}

/** Registers beforeAll/afterAll for one backend instance and returns the case helpers. */
export function useBackend(options: ConformanceOptions, context: () => FactoryContext = () => ({})): Suite {
  let backend: ExecutionBackend | undefined;
  beforeAll(async () => {
    backend = await options.factory(context());
  });
  afterAll(async () => {
    await backend?.close();
  });
  const get = () => {
    if (!backend) throw new Error('conformance: the backend factory has not run');
    return backend;
  };
  return {
    options,
    backend: get,
    test(name, capability, fn, timeoutMs) {
      it(
        name,
        async (ctx) => {
          if (!get().capabilities[capability].supported) ctx.skip();
          await fn(ctx);
        },
        timeoutMs ?? options.timeoutMs ?? 30_000,
      );
    },
    testUnsupported(capability, fn) {
      it(`declared unsupported: calls fail with UNSUPPORTED`, async (ctx) => {
        if (get().capabilities[capability].supported) ctx.skip();
        await fn();
      });
    },
  };
}

export function newProject(userId: string = randomUUID()): ProjectScope {
  return { userId, projectId: randomUUID() };
}

/** Awaits `promise` and asserts it rejects with a BackendError whose code is one of `codes`. */
export async function expectCode(promise: Promise<unknown> | (() => Promise<unknown>), ...codes: ErrorCode[]) {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  expect(error, `expected a BackendError with code ${codes.join(' or ')}, but it resolved`).toBeDefined();
  expect(isBackendError(error), `expected a BackendError, got ${String(error)}`).toBe(true);
  expect(codes, `unexpected code ${(error as { code?: string }).code}: ${(error as Error).message}`).toContain((error as { code: string }).code);
  return error as Error & { code: ErrorCode };
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Deterministic, incompressible-looking content, so round trips catch truncation and corruption. */
export const bytesOf = pseudoRandomBytes;

/** Every file under a scope with its hash: used to prove that a refused operation changed nothing. */
export async function snapshot(backend: ExecutionBackend, scope: FileScope): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let entries;
  try {
    entries = await backend.files.list(scope);
  } catch (error) {
    if (isBackendError(error, 'NOT_FOUND')) return out;
    throw error;
  }
  for (const entry of entries) {
    if (entry.kind === 'file') out[entry.path] = sha256(await backend.files.read(scope, entry.path));
    else out[entry.path] = entry.kind;
  }
  return out;
}
