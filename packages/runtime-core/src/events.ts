/**
 * The normalized agent event model and the run channel every backend uses to emit it.
 *
 * Guarantees a consumer can rely on (the conformance suite checks them):
 * - `seq` starts at 1 and increases by exactly 1: no event lost or duplicated;
 * - the first event is `started`; exactly one terminal event (`result` or `error`) ends the stream;
 * - the `text` deltas, concatenated, equal `result.text`.
 */
import { randomUUID } from 'node:crypto';
import { BackendError, createError, isBackendError, type ErrorCode } from './errors.js';
import type { AfterRunResult, AgentRun } from './contract.js';

export interface AgentUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
}

export interface AgentResult {
  exitCode: number;
  sessionId: string | null;
  /** The agent's final reply: all assistant text of the run. */
  text: string;
  costUsd: number;
  usage: AgentUsage;
  durationMs: number;
  numTurns: number;
  /** Project paths the run created, modified or deleted. */
  filesChanged: string[];
  /** What was done after the run, when the request asked (`RunClaudeRequest.after`). */
  after?: AfterRunResult;
}

export interface AgentErrorInfo {
  code: ErrorCode;
  message: string;
  recoverable: boolean;
  exitCode: number | null;
}

interface Base {
  seq: number;
  /** Milliseconds since the run started. */
  t: number;
}

export type AgentEvent =
  | (Base & { type: 'started'; runId: string; sessionId: string | null; model: string | null })
  | (Base & { type: 'text'; delta: string })
  | (Base & { type: 'tool_use'; toolUseId: string; name: string; input: unknown })
  | (Base & { type: 'tool_result'; toolUseId: string; isError: boolean; content: string })
  | (Base & {
      type: 'status';
      status: 'requesting' | 'retrying' | 'info';
      message: string;
      attempt?: number;
      retryDelayMs?: number;
    })
  | (Base & { type: 'result'; result: AgentResult })
  | (Base & { type: 'error'; error: AgentErrorInfo });

export type AgentEventType = AgentEvent['type'];
type Payload<T extends AgentEventType> = Omit<Extract<AgentEvent, { type: T }>, 'seq' | 't' | 'type'>;

/**
 * `{ ...fields, ...fixed }` (fixed's properties win), for objects made once per event. Built on an empty object, so
 * every event of one kind shares one hidden class: V8 gives each object made by a spread followed by more properties
 * (`{ ...fields, type, seq }`) a hidden class of its own (5 000 events, 4 992 classes, 1.6 µs each), allocated in the
 * old generation, so a stream's deltas filled it and set off full collections whose marking took a core away from
 * the stream (npm run bench -- cluster).
 */
export function eventObject<K extends object, F extends object>(fixed: K, fields: F): Omit<F, keyof K> & K {
  return Object.assign({}, fixed, fields, fixed);
}

export function isTerminalEvent(event: AgentEvent): event is Extract<AgentEvent, { type: 'result' | 'error' }> {
  return event.type === 'result' || event.type === 'error';
}

/**
 * A single-consumer event channel behind an AgentRun. The producer calls `emit`, then exactly one of
 * `succeed`/`fail`; later calls are ignored, so racing paths (cancel vs exit) cannot emit two terminals.
 */
export class RunChannel implements AgentRun {
  readonly runId: string;
  readonly result: Promise<AgentResult>;
  private readonly startedAt = Date.now();
  private seq = 0;
  private ended = false;
  private consumed = false;
  /** Emitted and not yet taken by the consumer (emptied whenever it catches up: a long run keeps no history here). */
  private readonly buffer: AgentEvent[] = [];
  private wake: (() => void) | null = null;
  private resolveResult!: (result: AgentResult) => void;
  private rejectResult!: (error: BackendError) => void;

  constructor(runId: string = randomUUID()) {
    this.runId = runId;
    this.result = new Promise<AgentResult>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // A caller that only iterates must not see an unhandled rejection.
    this.result.catch(() => undefined);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  emit<T extends Exclude<AgentEventType, 'result' | 'error'>>(type: T, payload: Payload<T>): void {
    if (this.ended) return;
    this.push(eventObject({ type, seq: ++this.seq, t: Date.now() - this.startedAt }, payload) as unknown as AgentEvent);
  }

  succeed(result: AgentResult): void {
    if (this.ended) return;
    this.push({ type: 'result', result, seq: ++this.seq, t: Date.now() - this.startedAt });
    this.ended = true;
    this.resolveResult(result);
  }

  fail(error: unknown, exitCode: number | null = null): void {
    if (this.ended) return;
    const typed = isBackendError(error) ? error : createError('INTERNAL', error instanceof Error ? error.message : String(error), { cause: error });
    const info: AgentErrorInfo = {
      code: typed.code,
      message: typed.message,
      recoverable: typed.recoverable,
      exitCode: exitCode ?? (typeof typed.details.exitCode === 'number' ? typed.details.exitCode : null),
    };
    this.push({ type: 'error', error: info, seq: ++this.seq, t: Date.now() - this.startedAt });
    this.ended = true;
    this.rejectResult(typed);
  }

  private push(event: AgentEvent): void {
    this.buffer.push(event);
    this.wake?.();
    this.wake = null;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<AgentEvent> {
    if (this.consumed) throw createError('CONFLICT', 'an agent run can be iterated once');
    this.consumed = true;
    let index = 0;
    for (;;) {
      if (index < this.buffer.length) {
        const event = this.buffer[index++]!;
        yield event;
        if (isTerminalEvent(event)) return;
        continue;
      }
      // Caught up: what was taken is the consumer's now (a stream's deltas die young instead of living for the run).
      this.buffer.length = 0;
      index = 0;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/**
 * The common shape of a backend's runClaude: validate synchronously (a bad request is a run that has already
 * failed), then let `execute` drive the channel; anything it throws ends the run as a typed error.
 */
export function startRun<R>(request: R, validate: (request: R) => void, execute: (request: R, run: RunChannel) => Promise<void>): AgentRun {
  const run = new RunChannel();
  try {
    validate(request);
  } catch (error) {
    run.fail(error);
    return run;
  }
  execute(request, run).catch((error: unknown) => {
    run.fail(isBackendError(error) ? error : createError('CLI_SPAWN_ERROR', error instanceof Error ? error.message : String(error), { cause: error }));
  });
  return run;
}

/** An AgentRun that has already failed (unsupported capability, invalid request). */
export function failedRun(error: BackendError): AgentRun {
  const run = new RunChannel();
  run.fail(error);
  return run;
}
