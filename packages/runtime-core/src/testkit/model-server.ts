/**
 * The scripted model server: a local stand-in for the Anthropic Messages API that the REAL `claude` CLI talks to
 * through `ANTHROPIC_BASE_URL`. Every agent test runs against it, and demo mode uses it as "the model".
 *
 * What it speaks (see the design folder's notes/claude-cli.md for what the CLI sends and expects):
 * - `POST /v1/messages` (the CLI adds `?beta=true`): SSE with `event:` lines when `stream: true`, a plain JSON Message
 *   otherwise (the CLI falls back to a non-streaming request after a 404 or an SSE `error` event).
 * - `POST /v1/messages/count_tokens`: a rough estimate, for completeness.
 * - anything else (including the CLI's `HEAD /` probe): 404.
 *
 * Scripts are stateless on purpose: the reply is chosen by the number of assistant messages already in the request's
 * `messages`, so retries, the non-stream fallback and `--resume` (which resends the whole history) all land on the
 * right turn without the server remembering conversations.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readRequestBody } from '../request-body.js';

// ---------------------------------------------------------------- script model

export interface ToolUse {
  /** Tool name as the CLI declares it: 'Write', 'Edit', 'Read', 'Bash', ... */
  name: string;
  input: Record<string, unknown>;
  /** Generated (`toolu_...`) when absent. */
  id?: string;
}

/** An HTTP error answer (JSON body in the Anthropic error shape). */
export interface StatusFault {
  status: number;
  /** Defaults to the error type Anthropic uses for that status (`api_error`, `overloaded_error`, ...). */
  errorType?: string;
  message?: string;
  /** Sent as the `retry-after` header. */
  retryAfterSeconds?: number;
  /** Sent as `x-should-retry`, which the Anthropic SDK honours over its own status rules. */
  shouldRetry?: boolean;
  /** How many attempts at this turn fail before one succeeds (default: every attempt fails). */
  times?: number;
}

/** Accept the request and never answer; the connection stays open until the client gives up or the server closes. */
export interface HangFault {
  hang: true;
  times?: number;
}

/** Start a normal stream, then destroy the socket after `cutAfterChunks` content deltas (0: right after message_start). */
export interface CutFault {
  cutAfterChunks: number;
  times?: number;
}

/** Start a normal stream, then send an SSE `error` event (of this error type) instead of finishing it. */
export interface StreamErrorFault {
  streamError: string;
  message?: string;
  /** Content deltas sent before the error (default: all of them, i.e. the error replaces message_delta). */
  afterChunks?: number;
  times?: number;
}

export type Fault = StatusFault | HangFault | CutFault | StreamErrorFault;

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface Turn {
  /** Assistant text; streamed as several small `text_delta` chunks. Comes before any tool use. */
  text?: string;
  toolUses?: ToolUse[];
  /** Milliseconds before the first byte of the answer (also before a fault's answer). */
  delayMs?: number;
  /** Milliseconds between streamed chunks. */
  chunkDelayMs?: number;
  /** Longest text chunk in code points (default 4: roughly a token). */
  chunkSize?: number;
  fault?: Fault;
  /** Default: `tool_use` when there are tool uses, else `end_turn`. */
  stopReason?: 'end_turn' | 'tool_use' | 'max_tokens' | 'stop_sequence';
  /** Overrides the estimated usage. */
  usage?: Partial<Usage>;
}

export interface ToolResultInfo {
  toolUseId: string;
  /** The tool_use this result answers, found in the preceding assistant message (null when not found). */
  name: string | null;
  input: Record<string, unknown> | null;
  isError: boolean;
  /** The result's text (text blocks joined). */
  content: string;
}

export interface ScriptContext {
  /** Number of assistant messages already in the conversation: 0 for the first reply of a fresh session. */
  turnIndex: number;
  /** 1-based attempt number for this turn index (retries and fallbacks count). */
  attempt: number;
  stream: boolean;
  /** The model the request asked for. */
  model: string;
  /** Text of the latest user message that carries text (the prompt), without `<system-reminder>` blocks. */
  prompt: string;
  /** Tool results in the last user message (empty when the last message is a prompt). */
  toolResults: ToolResultInfo[];
  /** The recorded request (body included). */
  request: RecordedRequest;
}

export type ScriptFunction = (request: MessagesRequest, ctx: ScriptContext) => Turn;
export type Script = Turn[] | ScriptFunction;

// ---------------------------------------------------------------- request shapes (the parts we read)

export interface ContentBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
  [key: string]: unknown;
}

export interface MessageParam {
  /** CLI 2.1.x also sends `system` messages (reminders) between turns, even right after a tool result. */
  role: 'user' | 'assistant' | 'system';
  content: string | ContentBlock[];
}

export interface MessagesRequest {
  model: string;
  messages: MessageParam[];
  stream?: boolean;
  max_tokens?: number;
  system?: unknown;
  tools?: unknown[];
  [key: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/messages`. */
  path: string;
  /** Path with the query string, e.g. `/v1/messages?beta=true`. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; null when there was none or it was not JSON. */
  body: unknown;
  /** Date.now() when the request arrived. */
  time: number;
  /** For messages requests: the turn index and attempt the script saw. */
  turnIndex?: number;
  attempt?: number;
  /** Status code answered (null while pending or for a hang). */
  status: number | null;
  /** When the connection closed (null while open): a hung request closes when its client goes away. */
  closedAt: number | null;
  /** How the exchange ended. */
  outcome: 'pending' | 'stream' | 'json' | 'error' | 'hang' | 'cut' | 'stream_error' | 'not_found' | 'aborted';
}

// ---------------------------------------------------------------- server

export interface ModelServerOptions {
  script?: Script;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Reported in messages; default: echo the requested model. */
  model?: string;
  /** Text sent when the script has no turn for the request. */
  fallbackText?: string;
  /**
   * Keep at most this many requests in `requests` (oldest dropped). Default: unlimited, which tests want;
   * a long-lived demo server should set a small number (each CLI request body is ~100 KB).
   */
  maxRecorded?: number;
  /** Reject requests whose credentials fail this check with 401 (demo mode: only per-run tokens). */
  authorize?: (headers: IncomingHttpHeaders) => boolean;
}

export interface ModelServer {
  /** `http://127.0.0.1:PORT`, for ANTHROPIC_BASE_URL. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Messages requests only (what most tests count). */
  readonly messageRequests: RecordedRequest[];
  /** Replaces the script and forgets attempt counts. */
  setScript(script: Script): void;
  close(): Promise<void>;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

/** The Messages API's request size limit; a longer request is answered 413 request_too_large, as there. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  let script: Script = options.script ?? [];
  // Attempts per turn index, so `times` spans the CLI's retries and its non-stream fallback.
  let attempts = new Map<number, number>();
  const requests: RecordedRequest[] = [];
  const pending = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (ms <= 0 || closed) return resolve();
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const record = (entry: RecordedRequest): void => {
    requests.push(entry);
    const max = options.maxRecorded ?? Infinity;
    while (requests.length > max) requests.shift();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? '/';
    const bytes = await readRequestBody(req, MAX_BODY_BYTES);
    const raw = bytes?.toString('utf8') ?? '';
    let body: unknown = null;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
    }
    const entry: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      url,
      headers: req.headers,
      body,
      time: Date.now(),
      status: null,
      outcome: 'pending',
      closedAt: null,
    };
    record(entry);
    pending.add(res);
    res.on('close', () => {
      entry.closedAt = Date.now();
      pending.delete(res);
      if (entry.outcome === 'pending') entry.outcome = 'aborted';
    });

    if (bytes === null) {
      entry.status = 413;
      entry.outcome = 'error';
      sendError(res, 413, ERROR_TYPES[413]!, 'Request exceeds the maximum allowed number of bytes.');
      return;
    }
    if (req.method !== 'POST' || (path !== '/v1/messages' && path !== '/v1/messages/count_tokens')) {
      entry.status = 404;
      entry.outcome = 'not_found';
      sendError(res, 404, 'not_found_error', `${req.method} ${path} not found`);
      return;
    }
    if (options.authorize && !options.authorize(req.headers)) {
      entry.status = 401;
      entry.outcome = 'error';
      sendError(res, 401, 'authentication_error', 'invalid x-api-key');
      return;
    }
    if (!isMessagesRequest(body)) {
      entry.status = 400;
      entry.outcome = 'error';
      sendError(res, 400, 'invalid_request_error', 'body must be JSON with model and messages');
      return;
    }
    if (path === '/v1/messages/count_tokens') {
      entry.status = 200;
      entry.outcome = 'json';
      sendJson(res, 200, { input_tokens: estimateTokens(raw) });
      return;
    }

    const turnIndex = body.messages.filter((m) => m.role === 'assistant').length;
    const attempt = (attempts.get(turnIndex) ?? 0) + 1;
    attempts.set(turnIndex, attempt);
    entry.turnIndex = turnIndex;
    entry.attempt = attempt;
    const stream = body.stream === true;
    const ctx: ScriptContext = {
      turnIndex,
      attempt,
      stream,
      model: body.model,
      prompt: promptText(body.messages),
      toolResults: lastToolResults(body.messages),
      request: entry,
    };

    let turn: Turn;
    try {
      turn = typeof script === 'function' ? script(body, ctx) : (script[turnIndex] ?? { text: options.fallbackText ?? 'Done.' });
    } catch (error) {
      // A broken script is a test bug: say so loudly in the answer rather than hanging the CLI.
      entry.status = 500;
      entry.outcome = 'error';
      sendError(res, 500, 'api_error', `script error: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }

    // As strict as the real API: a model can only call a tool the request offers.
    const offered = new Set((body.tools ?? []).map((tool) => (tool as { name?: unknown })?.name));
    const unknown = (turn.toolUses ?? []).find((use) => !offered.has(use.name));
    if (unknown) {
      entry.status = 400;
      entry.outcome = 'error';
      sendError(res, 400, 'invalid_request_error', `script error: tool ${unknown.name} is not among the request's tools`);
      return;
    }

    await sleep(turn.delayMs ?? 0);
    if (closed || res.destroyed) return;

    const fault = turn.fault && attempt <= (turn.fault.times ?? Infinity) ? turn.fault : undefined;
    if (fault && 'status' in fault) {
      entry.status = fault.status;
      entry.outcome = 'error';
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      if (fault.shouldRetry !== undefined) headers['x-should-retry'] = String(fault.shouldRetry);
      sendError(
        res,
        fault.status,
        fault.errorType ?? ERROR_TYPES[fault.status] ?? 'api_error',
        fault.message ?? `scripted ${fault.status} (attempt ${attempt})`,
        headers,
      );
      return;
    }
    if (fault && 'hang' in fault) {
      entry.outcome = 'hang';
      return; // `close()` destroys the socket.
    }

    const message = buildMessage(turn, options.model ?? body.model, raw);
    if (!stream) {
      // The non-stream fallback never sees stream-only faults: it is the CLI's recovery path.
      entry.status = 200;
      entry.outcome = 'json';
      sendJson(res, 200, message);
      return;
    }
    entry.status = 200;
    entry.outcome = 'stream';
    await streamMessage(res, message, turn, fault, entry, sleep, () => closed);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        sendError(res, 500, 'api_error', error instanceof Error ? error.message : String(error));
      } else {
        res.destroy();
      }
    });
  });
  // The CLI keeps connections alive between turns; don't let Node's defaults cut a slow scripted stream.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    requests,
    get messageRequests() {
      return requests.filter((r) => r.path === '/v1/messages');
    },
    setScript(next: Script) {
      script = next;
      attempts = new Map();
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const res of pending) res.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------- answers

interface OutMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: Array<{ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }>;
  stop_reason: string;
  stop_sequence: null;
  usage: Usage;
}

function buildMessage(turn: Turn, model: string, rawRequest: string): OutMessage {
  const content: OutMessage['content'] = [];
  if (turn.text !== undefined && turn.text !== '') content.push({ type: 'text', text: turn.text });
  for (const use of turn.toolUses ?? []) {
    content.push({ type: 'tool_use', id: use.id ?? newId('toolu_'), name: use.name, input: use.input });
  }
  // A reply must say something; an empty turn would make the CLI report an empty result.
  if (content.length === 0) content.push({ type: 'text', text: 'Done.' });
  const outputChars = content.reduce((n, block) => n + (block.type === 'text' ? block.text.length : JSON.stringify(block.input).length + 40), 0);
  return {
    id: newId('msg_'),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: turn.stopReason ?? (turn.toolUses?.length ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    usage: {
      input_tokens: estimateTokens(rawRequest),
      output_tokens: Math.max(1, Math.ceil(outputChars / 4)),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      ...turn.usage,
    },
  };
}

async function streamMessage(
  res: ServerResponse,
  message: OutMessage,
  turn: Turn,
  fault: Fault | undefined,
  entry: RecordedRequest,
  sleep: (ms: number) => Promise<void>,
  isClosed: () => boolean,
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'request-id': newId('req_'),
  });
  // Flush headers now: a client measuring time-to-first-byte should see the delay where the script put it.
  res.flushHeaders();
  const cutAfter = fault && 'cutAfterChunks' in fault ? fault.cutAfterChunks : undefined;
  const streamError = fault && 'streamError' in fault ? fault : undefined;
  const chunkDelay = turn.chunkDelayMs ?? 0;
  let deltas = 0;
  const gone = (): boolean => isClosed() || res.destroyed;

  const send = (event: string, data: unknown): void => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  // Faults strike only after what was written has reached the socket, so the client sees exactly
  // `n` deltas before the failure (a bare destroy() can drop the buffered tail and make tests flaky).
  const flushed = (): Promise<void> => new Promise((resolve) => res.write('', () => resolve()));
  const cut = async (): Promise<void> => {
    entry.outcome = 'cut';
    await flushed();
    res.destroy();
  };
  const failStream = async (): Promise<void> => {
    entry.outcome = 'stream_error';
    await flushed();
    send('error', {
      type: 'error',
      error: { type: streamError!.streamError, message: streamError!.message ?? `scripted ${streamError!.streamError}` },
    });
    res.end();
  };
  /** Returns false when the stream must stop here (a fault, or the client went away). */
  const delta = async (index: number, payload: Record<string, unknown>): Promise<boolean> => {
    if (cutAfter !== undefined && deltas >= cutAfter) {
      await cut();
      return false;
    }
    if (streamError?.afterChunks !== undefined && deltas >= streamError.afterChunks) {
      await failStream();
      return false;
    }
    if (deltas > 0) await sleep(chunkDelay);
    if (gone()) return false;
    send('content_block_delta', { type: 'content_block_delta', index, delta: payload });
    deltas++;
    return true;
  };

  const { content, usage, ...rest } = message;
  send('message_start', {
    type: 'message_start',
    message: { ...rest, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } },
  });
  send('ping', { type: 'ping' });

  for (const [index, block] of content.entries()) {
    if (block.type === 'text') {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const piece of chunkText(block.text, turn.chunkSize ?? 4)) {
        if (!(await delta(index, { type: 'text_delta', text: piece }))) return;
      }
    } else {
      send('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      for (const piece of chunkJson(JSON.stringify(block.input))) {
        if (!(await delta(index, { type: 'input_json_delta', partial_json: piece }))) return;
      }
    }
    send('content_block_stop', { type: 'content_block_stop', index });
  }
  // Fewer deltas than the fault's position: strike before the message completes, so the fault still bites.
  if (cutAfter !== undefined) return cut();
  if (streamError) return failStream();
  send('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

function sendJson(res: ServerResponse, status: number, data: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(data);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'request-id': newId('req_'),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { type: 'error', error: { type, message } }, headers);
}

// ---------------------------------------------------------------- helpers (exported for scripts)

/**
 * Splits text into token-sized pieces (whitespace stays attached to the following word, long runs and CJK text are
 * cut every `size` code points). Concatenating the pieces gives the text back exactly; surrogate pairs stay whole.
 */
export function chunkText(text: string, size = 4): string[] {
  if (text === '') return [];
  const n = Math.max(1, Math.floor(size));
  const pieces = text.match(new RegExp(`\\s*\\S{1,${n}}|\\s+`, 'gu')) ?? [text];
  return pieces.join('') === text ? pieces : [text];
}

/** Tool input arrives as several `input_json_delta` pieces, like the real API (which splits it arbitrarily). */
function chunkJson(json: string): string[] {
  const size = json.length <= 64 ? 16 : Math.max(64, Math.ceil(json.length / 24));
  const pieces: string[] = [];
  for (let i = 0; i < json.length; i += size) pieces.push(json.slice(i, i + size));
  return pieces;
}

/** How the CLI starts the user message that carries a skill's body (after the model called the Skill tool). */
const SKILL_BODY_MARK = 'Base directory for this skill:';

/** The text of the latest user message that carries text, without the CLI's `<system-reminder>` blocks or skill bodies. */
export function promptText(messages: MessageParam[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (message.role !== 'user') continue;
    const texts =
      typeof message.content === 'string'
        ? [message.content]
        : message.content.filter((b) => b.type === 'text' && typeof b.text === 'string').map((b) => b.text!);
    const text = texts
      .map((t) => t.replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, '').trim())
      // A skill's body, which the CLI sends as a user message after a Skill call, is not what the user asked.
      .filter((t) => t !== '' && !t.startsWith(SKILL_BODY_MARK))
      .join('\n');
    if (text !== '') return text;
  }
  return '';
}

/**
 * Tool results carried by the last user/assistant message (when it is a user message), joined with the tool_use they
 * answer. Trailing `system` messages are skipped: the CLI can append one after a tool result.
 */
export function lastToolResults(messages: MessageParam[]): ToolResultInfo[] {
  const last = messages.findLast((m) => m.role === 'user' || m.role === 'assistant');
  if (!last || last.role !== 'user' || typeof last.content === 'string') return [];
  const uses = new Map<string, ContentBlock>();
  for (const message of messages) {
    if (message.role !== 'assistant' || typeof message.content === 'string') continue;
    for (const block of message.content) if (block.type === 'tool_use' && block.id) uses.set(block.id, block);
  }
  return last.content
    .filter((b) => b.type === 'tool_result')
    .map((b) => {
      const use = uses.get(b.tool_use_id ?? '');
      return {
        toolUseId: b.tool_use_id ?? '',
        name: use?.name ?? null,
        input: (use?.input as Record<string, unknown> | undefined) ?? null,
        isError: b.is_error === true,
        content: blockText(b.content),
      };
    });
}

function blockText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((c: unknown) => (c && typeof c === 'object' && (c as ContentBlock).type === 'text' ? String((c as ContentBlock).text ?? '') : ''))
      .join('');
  }
  return '';
}

function isMessagesRequest(body: unknown): body is MessagesRequest {
  return typeof body === 'object' && body !== null && typeof (body as MessagesRequest).model === 'string' && Array.isArray((body as MessagesRequest).messages);
}

/** ~4 characters per token: good enough for the CLI to print plausible usage and cost. */
function estimateTokens(raw: string): number {
  return Math.max(1, Math.ceil(raw.length / 4));
}

function newId(prefix: string): string {
  return prefix + randomBytes(12).toString('base64url').replace(/[-_]/g, 'x');
}
