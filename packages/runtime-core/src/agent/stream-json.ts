/**
 * Turns the Claude Code CLI's `--output-format stream-json --verbose --include-partial-messages` lines into the
 * contract's normalized events. Every backend that runs the CLI (a local child process, an exec in a sandbox)
 * feeds lines here, so the event stream is identical whatever runs the process.
 */
import { createError, errorCodeForExit, type ErrorCode } from '../errors.js';
import type { AfterRunResult } from '../contract.js';
import type { AgentResult, AgentUsage } from '../events.js';
import type { RunChannel } from '../events.js';

type Json = Record<string, unknown>;

const MAX_TOOL_RESULT_CHARS = 4000;

function asRecord(value: unknown): Json | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function usageOf(raw: unknown): AgentUsage {
  const u = asRecord(raw) ?? {};
  return {
    inputTokens: num(u.input_tokens),
    outputTokens: num(u.output_tokens),
    cacheReadInputTokens: num(u.cache_read_input_tokens),
    cacheCreationInputTokens: num(u.cache_creation_input_tokens),
  };
}

function stringify(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => (typeof asRecord(part)?.text === 'string' ? (asRecord(part)!.text as string) : JSON.stringify(part))).join('');
  }
  return content === undefined ? '' : JSON.stringify(content);
}

/** The contract code for an API failure the CLI reported in its result line. */
export function errorCodeForApiFailure(status: number | null, message: string): ErrorCode {
  if (status === 401 || status === 403) return 'AUTH_ERROR';
  if (status === 429) return 'RATE_LIMIT';
  if (status === 408 || /timed? ?out|timeout/i.test(message)) return 'API_TIMEOUT';
  if (status !== null && (status >= 500 || status === 529)) return 'NETWORK_ERROR';
  if (status === null && /connect|network|socket|ECONN|fetch failed|terminated|closed/i.test(message)) return 'NETWORK_ERROR';
  return 'CLI_GENERAL_ERROR';
}

export interface TranslatorOptions {
  /** Computed when the process has ended, for the final result. */
  filesChanged?: () => Promise<string[]>;
  /**
   * Called once the run has succeeded, with the CLI's result line: does the request's `after` (or hands over what the
   * backend already did) before the result is reported. A throw fails the run with that error.
   */
  after?: (resultLine: Record<string, unknown>) => Promise<AfterRunResult | undefined>;
}

/**
 * Feed it stdout lines; call `finish` once with the exit status. It emits `started`, `text`, `tool_use`,
 * `tool_result`, `status`, and exactly one terminal event on the channel.
 */
export class StreamJsonTranslator {
  private sessionId: string | null = null;
  private started = false;
  private resultLine: Json | null = null;
  /** Text emitted per content block ("messageId:index"), to reconcile with the block's final text. */
  private readonly blockText = new Map<string, string>();
  private readonly finalizedBlocks = new Set<string>();
  private currentMessageId: string | null = null;
  private transcript = '';
  /** After a retry: deltas are held back until the block's final text reconciles them. */
  private replaying = false;
  private lastStderr = '';

  constructor(
    private readonly run: RunChannel,
    private readonly options: TranslatorOptions = {},
  ) {}

  get session(): string | null {
    return this.sessionId;
  }

  /** Remember stderr (the last part) for error messages when the CLI dies without a result line. */
  stderr(chunk: string): void {
    this.lastStderr = (this.lastStderr + chunk).slice(-2000);
  }

  line(raw: string): void {
    const trimmed = raw.trim();
    if (trimmed === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      this.run.emit('status', { status: 'info', message: trimmed.slice(0, 500) });
      return;
    }
    const msg = asRecord(parsed);
    if (!msg) return;
    if (typeof msg.session_id === 'string') this.sessionId = msg.session_id;
    switch (msg.type) {
      case 'system':
        return this.system(msg);
      case 'stream_event':
        return this.streamEvent(asRecord(msg.event));
      case 'assistant':
        return this.assistant(asRecord(msg.message));
      case 'user':
        return this.user(asRecord(msg.message));
      case 'result':
        this.resultLine = msg;
        return;
      default:
        return;
    }
  }

  private ensureStarted(model: string | null = null): void {
    if (this.started) return;
    this.started = true;
    this.run.emit('started', { runId: this.run.runId, sessionId: this.sessionId, model });
  }

  private system(msg: Json): void {
    if (msg.subtype === 'init') {
      this.ensureStarted(typeof msg.model === 'string' ? msg.model : null);
      return;
    }
    this.ensureStarted();
    if (msg.subtype === 'status' && msg.status === 'requesting') {
      this.run.emit('status', { status: 'requesting', message: 'waiting for the model' });
    } else if (msg.subtype === 'api_retry') {
      this.abandonOpenBlocks();
      this.run.emit('status', {
        status: 'retrying',
        message: `model request failed (${String(msg.error_status ?? msg.error ?? 'error')}); retrying`,
        attempt: num(msg.attempt),
        retryDelayMs: num(msg.retry_delay_ms),
      });
    }
  }

  /**
   * A request that failed mid-reply is re-sent. Text already streamed stays; when the retried reply starts with
   * it, only the rest is emitted (see matchBlock). Streamed deltas of the retry that repeat it are suppressed.
   */
  private abandonOpenBlocks(): void {
    this.replaying = true;
  }

  private emitText(key: string, delta: string): void {
    if (delta === '') return;
    // Text blocks of separate turns ("I'll read it." … tool … "Done!") read as paragraphs, not one run-on line.
    if (!this.blockText.has(key) && this.transcript !== '' && !this.transcript.endsWith('\n')) {
      this.transcript += '\n\n';
      this.run.emit('text', { delta: '\n\n' });
    }
    this.blockText.set(key, (this.blockText.get(key) ?? '') + delta);
    this.transcript += delta;
    this.run.emit('text', { delta });
  }

  private streamEvent(event: Json | null): void {
    if (!event) return;
    this.ensureStarted();
    if (event.type === 'message_start') {
      this.currentMessageId = (asRecord(event.message)?.id as string | undefined) ?? null;
      return;
    }
    if (event.type === 'content_block_delta') {
      const delta = asRecord(event.delta);
      if (delta?.type === 'text_delta' && typeof delta.text === 'string' && this.currentMessageId && !this.replaying) {
        this.emitText(`${this.currentMessageId}:${num(event.index)}`, delta.text);
      }
    }
  }

  private assistant(message: Json | null): void {
    if (!message) return;
    this.ensureStarted();
    const id = typeof message.id === 'string' ? message.id : 'unknown';
    const content = Array.isArray(message.content) ? message.content : [];
    // One line per content block; its position among the message's blocks is not given, so match by
    // text: the block whose streamed text is a prefix of this one (or a fresh block when none streamed).
    for (const part of content) {
      const block = asRecord(part);
      if (!block) continue;
      if (block.type === 'text' && typeof block.text === 'string') {
        const key = this.matchBlock(id, block.text);
        const streamed = this.blockText.get(key) ?? '';
        // Non-streamed replies (the CLI's fallback without `stream`) arrive whole: emit what was not streamed.
        if (block.text.startsWith(streamed)) this.emitText(key, block.text.slice(streamed.length));
        this.finalizedBlocks.add(key);
        this.replaying = false;
      } else if (block.type === 'tool_use') {
        this.run.emit('tool_use', {
          toolUseId: String(block.id ?? ''),
          name: String(block.name ?? ''),
          input: block.input ?? {},
        });
      }
    }
  }

  private matchBlock(messageId: string, text: string): string {
    // Prefer this message's own streamed block; else a block whose stream was cut off (the CLI re-sent the
    // request, e.g. without streaming): its text is the start of this one, so only the rest is new.
    let orphan: string | null = null;
    for (const [key, streamed] of this.blockText) {
      if (this.finalizedBlocks.has(key) || !text.startsWith(streamed)) continue;
      if (key.startsWith(`${messageId}:`)) return key;
      orphan ??= key;
    }
    if (orphan) return orphan;
    let i = 0;
    while (this.blockText.has(`${messageId}:w${i}`)) i++;
    return `${messageId}:w${i}`;
  }

  private user(message: Json | null): void {
    const content = Array.isArray(message?.content) ? message!.content : [];
    for (const part of content) {
      const block = asRecord(part);
      if (block?.type !== 'tool_result') continue;
      this.run.emit('tool_result', {
        toolUseId: String(block.tool_use_id ?? ''),
        isError: block.is_error === true,
        content: stringify(block.content).slice(0, MAX_TOOL_RESULT_CHARS),
      });
    }
  }

  /**
   * The process ended. `reason` says why when the backend ended it (timeout, cancel); otherwise the exit
   * status and the result line decide between success and which error.
   */
  async finish(exit: { exitCode: number | null; signal?: string | null; reason?: 'timeout' | 'cancelled' | 'spawn-failed'; message?: string }): Promise<void> {
    const result = this.resultLine;
    const exitCode = exit.exitCode;
    if (exit.reason === 'timeout') {
      this.run.fail(createError('CLI_TIMEOUT', exit.message ?? 'the agent run timed out', { details: { exitCode: 124 } }), 124);
      return;
    }
    if (exit.reason === 'cancelled') {
      this.run.fail(createError('CANCELLED', exit.message ?? 'the agent run was cancelled', { details: { exitCode } }), exitCode);
      return;
    }
    if (exit.reason === 'spawn-failed') {
      this.run.fail(createError('CLI_SPAWN_ERROR', exit.message ?? 'the Claude CLI could not be started'), null);
      return;
    }
    if (result && result.is_error !== true && exitCode === 0) {
      const filesChanged = (await this.options.filesChanged?.().catch(() => [])) ?? [];
      let after: AfterRunResult | undefined;
      try {
        after = await this.options.after?.(result);
      } catch (error) {
        this.run.fail(error, 0);
        return;
      }
      const final: AgentResult = {
        exitCode: 0,
        sessionId: typeof result.session_id === 'string' ? result.session_id : this.sessionId,
        text: this.transcript,
        costUsd: num(result.total_cost_usd),
        usage: usageOf(result.usage),
        durationMs: num(result.duration_ms),
        numTurns: num(result.num_turns),
        filesChanged,
        ...(after ? { after } : {}),
      };
      this.run.succeed(final);
      return;
    }
    if (result) {
      const message = typeof result.result === 'string' && result.result !== '' ? result.result : String(result.subtype ?? 'error');
      const status = typeof result.api_error_status === 'number' ? result.api_error_status : null;
      const code = result.subtype === 'error_max_turns' ? 'CLI_GENERAL_ERROR' : errorCodeForApiFailure(status, message);
      this.run.fail(createError(code, message, { details: { exitCode, apiStatus: status } }), exitCode);
      return;
    }
    const code = exitCode === 0 ? 'CLI_GENERAL_ERROR' : errorCodeForExit(exitCode, exit.signal);
    const reason = this.lastStderr.trim().split('\n').slice(-3).join(' ').slice(0, 500);
    this.run.fail(
      createError(code, `the Claude CLI exited (${exit.signal ?? exitCode}) without a result${reason ? `: ${reason}` : ''}`, {
        details: { exitCode },
      }),
      exitCode,
    );
  }
}
