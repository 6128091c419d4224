/**
 * The scripted model server, proven two ways: plain HTTP (the wire format, faults, recording) and the REAL `claude`
 * CLI running against it through ANTHROPIC_BASE_URL (which is what every agent test and demo mode rely on).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { claudeInvocation, startKeyProxy, type AgentTool } from '@dreamcore/runtime-core';
import { demoScript } from '@dreamcore/runtime-core/demo';
import { chunkText, startModelServer, type ModelServer, type Script } from '@dreamcore/runtime-core/testkit';
import { playHeadless } from './support/headless-game.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLAUDE = path.join(REPO, 'node_modules/.bin/claude');
const TOKEN = 'dc-run-token-0123456789abcdef'; // stands in for the per-run token; never a real key
/** Longer than the 5 s the CLI waits for MCP servers by default in print mode. */
const LATE_MCP_MS = 6_500;

const servers: ModelServer[] = [];
const cleanup: string[] = [];

async function serve(script: Script): Promise<ModelServer> {
  const server = await startModelServer({ script });
  servers.push(server);
  return server;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- plain HTTP

interface SseEvent {
  event: string;
  data: Record<string, any>;
}

function parseSse(raw: string): SseEvent[] {
  return raw
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^event: \w+$/);
      expect(lines[1]).toMatch(/^data: /);
      return { event: lines[0]!.slice('event: '.length), data: JSON.parse(lines[1]!.slice('data: '.length)) };
    });
}

const json = async (res: Response): Promise<any> => res.json();

function post(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': TOKEN, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
    ...init,
  });
}

const userPrompt = (text: string) => ({
  role: 'user' as const,
  content: [
    { type: 'text', text: '<system-reminder>\nSkills are available.\n</system-reminder>' },
    { type: 'text', text },
  ],
});

describe('scripted model server over HTTP', () => {
  it('answers HEAD / and unknown paths with 404 and records every request', async () => {
    const s = await serve([]);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(s.url, { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(`${s.url}/v1/models`)).status).toBe(404);
    expect(s.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['HEAD', '/', 404],
      ['GET', '/v1/models', 404],
    ]);
  });

  it('answers a request over 32 MB with 413 request_too_large, as the API does, and keeps serving', async () => {
    const s = await serve([{ text: 'fine' }]);
    const huge = { model: 'm', max_tokens: 10, stream: false, messages: [userPrompt('x'.repeat(32 * 1024 * 1024))] };
    const refused = await post(s.url, huge);
    expect(refused.status).toBe(413);
    expect(await json(refused)).toEqual({ type: 'error', error: { type: 'request_too_large', message: expect.any(String) } });
    // The refused request did not count as a turn: the next one gets the script's first answer.
    const ok = await post(s.url, { model: 'm', max_tokens: 10, stream: false, messages: [userPrompt('hi')] });
    expect(ok.status).toBe(200);
    expect((await json(ok)).content).toEqual([{ type: 'text', text: 'fine' }]);
    expect(s.requests.map((r) => [r.status, r.outcome])).toEqual([
      [413, 'error'],
      [200, 'json'],
    ]);
  });

  it('streams SSE with event lines, small text deltas and input_json_delta tool input', async () => {
    const text = 'Hello there, world! こんにちは、世界。🎮 Let us build a game.';
    const input = { file_path: 'index.html', content: '<canvas></canvas>\n'.repeat(20) };
    const s = await serve([{ text, toolUses: [{ name: 'Write', input }] }]);
    const res = await post(s.url, { model: 'claude-test', max_tokens: 100, stream: true, messages: [userPrompt('hi')], tools: [{ name: 'Write' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSse(await res.text());
    for (const e of events) expect(e.data.type).toBe(e.event);

    const order = events.map((e) => e.event).join(' ');
    expect(order).toMatch(/^message_start (ping )?(content_block_start (content_block_delta )+content_block_stop ){2}message_delta message_stop$/);
    const start = events[0]!.data.message;
    expect(start).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-test', content: [] });
    expect(start.id).toMatch(/^msg_/);
    expect(start.usage.input_tokens).toBeGreaterThan(10);

    const textDeltas = events.filter((e) => e.data.delta?.type === 'text_delta').map((e) => e.data.delta.text);
    expect(textDeltas.length).toBeGreaterThan(8);
    expect(textDeltas.join('')).toBe(text);
    expect(Math.max(...textDeltas.map((t: string) => t.length))).toBeLessThanOrEqual(8);

    const toolStart = events.find((e) => e.data.content_block?.type === 'tool_use')!.data.content_block;
    expect(toolStart).toMatchObject({ name: 'Write', input: {} });
    expect(toolStart.id).toMatch(/^toolu_/);
    const json = events.filter((e) => e.data.delta?.type === 'input_json_delta').map((e) => e.data.delta.partial_json);
    expect(json.length).toBeGreaterThan(1);
    expect(JSON.parse(json.join(''))).toEqual(input);

    const end = events.find((e) => e.event === 'message_delta')!.data;
    expect(end.delta.stop_reason).toBe('tool_use');
    expect(end.usage.output_tokens).toBeGreaterThan(10);

    const recorded = s.requests[0]!;
    expect(recorded).toMatchObject({ method: 'POST', path: '/v1/messages', url: '/v1/messages?beta=true' });
    expect(recorded).toMatchObject({ turnIndex: 0, attempt: 1, status: 200, outcome: 'stream' });
    expect(recorded.headers['x-api-key']).toBe(TOKEN);
    expect((recorded.body as { model: string }).model).toBe('claude-test');
    expect(recorded.time).toBeGreaterThan(Date.now() - 10_000);
  });

  it('refuses, as the real API would, a scripted call to a tool the request does not offer', async () => {
    const s = await serve([{ text: 'x', toolUses: [{ name: 'mcp__dreamcore__generate_image', input: {} }] }]);
    const res = await post(s.url, { model: 'm', max_tokens: 10, stream: true, messages: [userPrompt('hi')], tools: [{ name: 'Write' }] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('mcp__dreamcore__generate_image');
  });
  it('answers a non-stream request with a plain JSON Message (the CLI fallback)', async () => {
    const s = await serve([{ text: 'plain answer' }]);
    const res = await post(s.url, { model: 'm', max_tokens: 10, messages: [userPrompt('hi')] });
    expect(res.headers.get('content-type')).toBe('application/json');
    const message = await json(res);
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'plain answer' }],
      stop_reason: 'end_turn',
    });
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(s.requests[0]!.outcome).toBe('json');
  });

  it('picks the turn by the number of assistant messages, and says "done" when the script runs out', async () => {
    const s = await serve([{ text: 'first' }, { text: 'second' }]);
    const history = [userPrompt('hi'), { role: 'assistant', content: [{ type: 'text', text: 'first' }] }, userPrompt('again')];
    const second = await json(await post(s.url, { model: 'm', messages: history }));
    expect(second.content[0].text).toBe('second');
    const more = [...history, { role: 'assistant', content: 'second' }, userPrompt('more')];
    const fallback = await json(await post(s.url, { model: 'm', messages: more }));
    expect(fallback.content[0].text).toBe('Done.');
    expect(s.requests.map((r) => r.turnIndex)).toEqual([1, 2]);
  });

  it('gives a script function the prompt (without system reminders) and the tool results it answers', async () => {
    const seen: unknown[] = [];
    const s = await serve((_request, ctx) => {
      seen.push({ turn: ctx.turnIndex, prompt: ctx.prompt, results: ctx.toolResults, stream: ctx.stream });
      return { text: `turn ${ctx.turnIndex}` };
    });
    await post(s.url, {
      model: 'm',
      messages: [
        userPrompt('make a game'),
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Read', input: { file_path: 'a' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'x' }], is_error: true }] },
        // CLI 2.1.x appends reminders as `system` messages, even after a tool result.
        { role: 'system', content: 'The task tools have not been used recently.' },
      ],
    });
    expect(seen).toEqual([
      {
        turn: 1,
        prompt: 'make a game',
        stream: false,
        results: [{ toolUseId: 'toolu_1', name: 'Read', input: { file_path: 'a' }, isError: true, content: 'x' }],
      },
    ]);
  });

  it('fails a turn `times` attempts with the status, headers and error body the SDK expects', async () => {
    const s = await serve([{ text: 'finally', fault: { status: 529, times: 2, retryAfterSeconds: 3 } }]);
    const body = { model: 'm', messages: [userPrompt('hi')] };
    const first = await post(s.url, body);
    expect(first.status).toBe(529);
    expect(first.headers.get('retry-after')).toBe('3');
    expect(await json(first)).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect((await post(s.url, body)).status).toBe(529);
    const third = await post(s.url, body);
    expect(third.status).toBe(200);
    expect((await json(third)).content[0].text).toBe('finally');
    expect(s.requests.map((r) => [r.attempt, r.status])).toEqual([
      [1, 529],
      [2, 529],
      [3, 200],
    ]);
    // A new script starts counting again.
    s.setScript([{ text: 'x', fault: { status: 401 } }]);
    const unauthorized = await post(s.url, body);
    expect(unauthorized.status).toBe(401);
    expect((await json(unauthorized)).error.type).toBe('authentication_error');
    expect(s.requests.at(-1)!.attempt).toBe(1);
  });

  it('cuts the socket after n deltas, and hangs until the client gives up', async () => {
    const s = await serve([{ text: 'one two three four five six', fault: { cutAfterChunks: 2 } }]);
    const res = await post(s.url, { model: 'm', stream: true, messages: [userPrompt('hi')] });
    expect(res.status).toBe(200);
    let raw = '';
    const decoder = new TextDecoder();
    await expect(
      (async () => {
        for await (const chunk of res.body!) raw += decoder.decode(chunk as Uint8Array, { stream: true });
      })(),
    ).rejects.toThrow();
    const deltas = raw.split('\n').filter((l) => l === 'event: content_block_delta');
    expect(deltas).toHaveLength(2);
    expect(raw).not.toContain('message_stop');
    expect(s.requests[0]!.outcome).toBe('cut');

    s.setScript([{ fault: { hang: true } }]);
    await expect(post(s.url, { model: 'm', stream: true, messages: [userPrompt('hi')] }, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(s.requests[1]!.outcome).toMatch(/hang|aborted/);
    // close() must not wait for a hanging exchange.
    s.setScript([{ fault: { hang: true } }]);
    const hanging = post(s.url, { model: 'm', messages: [userPrompt('hi')] }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await s.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await hanging).toBeInstanceOf(Error);
  });

  it('delays the first byte and the chunks as scripted', async () => {
    const s = await serve([{ text: 'a b c d', delayMs: 150, chunkDelayMs: 40 }]);
    const t0 = Date.now();
    const res = await post(s.url, { model: 'm', stream: true, messages: [userPrompt('hi')] });
    const headersAt = Date.now() - t0;
    await res.text();
    expect(headersAt).toBeGreaterThanOrEqual(140);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150 + 3 * 40 - 10);
  });

  it('chunks text into token-sized pieces that concatenate back exactly', () => {
    for (const text of ['', 'a', '  lead and trail  ', 'supercalifragilistic', 'ゲームを作りました！👾🚀 ok\n\nnext line']) {
      const pieces = chunkText(text);
      expect(pieces.join('')).toBe(text);
      for (const piece of pieces) expect(piece).not.toMatch(/[\uD800-\uDBFF]$/); // no split surrogate pairs
    }
    expect(chunkText('one two three')).toEqual(['one', ' two', ' thre', 'e']);
  });
});

// ---------------------------------------------------------------- the real CLI against the server

interface CliRun {
  code: number | null;
  ms: number;
  lines: Array<Record<string, any>>;
  stderr: string;
  result: Record<string, any> | undefined;
}

interface Workspace {
  home: string;
  project: string;
}

async function workspace(): Promise<Workspace> {
  const home = await mkdtemp(path.join(tmpdir(), 'dc-model-server-'));
  cleanup.push(home);
  const project = path.join(home, 'project');
  await mkdir(project);
  return { home, project };
}

function runClaude(
  s: ModelServer,
  ws: Workspace,
  prompt: string,
  options: { env?: Record<string, string>; args?: string[]; timeoutMs?: number } = {},
): Promise<CliRun> {
  return runCli(
    [
      '-p',
      prompt,
      '--output-format',
      'stream-json',
      '--verbose',
      '--model',
      'claude-sonnet-4-5',
      '--permission-mode',
      'acceptEdits',
      '--include-partial-messages',
      ...(options.args ?? []),
    ],
    // A clean environment: nothing of the test runner's (e.g. a real ANTHROPIC_API_KEY) reaches the CLI.
    {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: ws.home,
      CLAUDE_CONFIG_DIR: path.join(ws.home, '.claude'),
      ANTHROPIC_BASE_URL: s.url,
      ANTHROPIC_API_KEY: TOKEN,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      CLAUDE_CODE_MAX_RETRIES: '1',
      ...options.env,
    },
    ws.project,
    options.timeoutMs,
  );
}

/** The CLI with exactly these arguments and environment; every stdout line parsed. */
function runCli(args: string[], env: Record<string, string>, cwd: string, timeoutMs = 45_000): Promise<CliRun> {
  const started = Date.now();
  const child = spawn(CLAUDE, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, any>);
      resolve({ code, ms: Date.now() - started, lines, stderr, result: lines.find((l) => l.type === 'result') });
    });
  });
}

/** Text of each streamed message, rebuilt from `stream_event` deltas (a new message starts at message_start). */
function streamedTexts(run: CliRun): string[] {
  const texts: string[] = [];
  for (const line of run.lines) {
    if (line.type !== 'stream_event') continue;
    if (line.event.type === 'message_start') texts.push('');
    if (line.event.delta?.type === 'text_delta') texts[texts.length - 1] += line.event.delta.text;
  }
  return texts;
}

/** Text of each assistant message as the CLI reports it (one `assistant` line per content block). */
function assistantTexts(run: CliRun): string[] {
  const byId = new Map<string, string>();
  for (const line of run.lines) {
    if (line.type !== 'assistant') continue;
    const text = line.message.content
      .filter((b: { type: string }) => b.type === 'text')
      .map((b: { text: string }) => b.text)
      .join('');
    byId.set(line.message.id, (byId.get(line.message.id) ?? '') + text);
  }
  return [...byId.values()];
}

function toolUses(run: CliRun): Array<{ name: string; input: Record<string, any> }> {
  return run.lines.filter((l) => l.type === 'assistant').flatMap((l) => l.message.content.filter((b: { type: string }) => b.type === 'tool_use'));
}

// Concurrent: each case has its own server and workspace, and a CLI run mostly waits (start-up, I/O).
const describeCli = existsSync(CLAUDE) ? describe.concurrent : describe.skip;

// Generous per-test time: on a loaded 2-core machine a CLI start-up alone can take seconds (see the report numbers).
describeCli('the real claude CLI against the scripted model', { timeout: 60_000 }, () => {
  it('writes index.html from a Write turn; streamed deltas rebuild every message and the result', async () => {
    const ws = await workspace();
    const content = '<!DOCTYPE html>\n<title>Scripted</title>\n<canvas id="c"></canvas>\n';
    const final = 'All done: index.html now has a canvas. 完成しました！ Enjoy 🎮';
    const s = await serve([{ text: 'Creating index.html now.', toolUses: [{ name: 'Write', input: { file_path: 'index.html', content } }] }, { text: final }]);
    const run = await runClaude(s, ws, 'make a page with a canvas');
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(path.join(ws.project, 'index.html'), 'utf8')).toBe(content);

    const init = run.lines[0]!;
    expect(init).toMatchObject({ type: 'system', subtype: 'init', cwd: expect.stringContaining('project') });
    expect(run.result).toMatchObject({ subtype: 'success', is_error: false, num_turns: 2, result: final });
    // Usage flows through to the CLI's accounting.
    expect(run.result!.usage.input_tokens).toBeGreaterThan(1000);
    expect(run.result!.total_cost_usd).toBeGreaterThan(0);

    const streamed = streamedTexts(run);
    expect(streamed).toEqual(assistantTexts(run));
    expect(streamed).toEqual(['Creating index.html now.', final]);
    expect(streamed.at(-1)).toBe(run.result!.result);
    const deltaCount = run.lines.filter((l) => l.event?.delta?.type === 'text_delta').length;
    expect(deltaCount).toBeGreaterThan(10);

    // What reached the "model": HEAD probe, then two turns; only the per-run token, never anything else.
    const calls = s.messageRequests;
    expect(calls.map((r) => [r.turnIndex, r.attempt, r.outcome])).toEqual([
      [0, 1, 'stream'],
      [1, 1, 'stream'],
    ]);
    for (const r of s.requests) {
      if (r.method === 'POST') expect(r.headers['x-api-key']).toBe(TOKEN);
      expect(r.headers.authorization).toBeUndefined();
      const real = process.env.ANTHROPIC_API_KEY;
      if (real) expect(JSON.stringify(r.headers)).not.toContain(real);
    }
    expect(calls[0]!.headers['anthropic-version']).toBe('2023-06-01');
    expect(calls[0]!.body).toMatchObject({ stream: true, model: 'claude-sonnet-4-5' });
  });

  it('survives a 500, a cut stream and a hang in one run (retry, non-stream fallback, timeout retry)', async () => {
    const ws = await workspace();
    const s = await serve([
      {
        text: 'Writing a.txt.',
        toolUses: [{ name: 'Write', input: { file_path: 'a.txt', content: 'a\n' } }],
        fault: { status: 500, times: 1 },
      },
      {
        text: 'Reading it back now.',
        toolUses: [{ name: 'Read', input: { file_path: 'a.txt' } }],
        fault: { cutAfterChunks: 2, times: 1 },
      },
      { text: 'Finished after the hang.', fault: { hang: true, times: 1 } },
    ]);
    const run = await runClaude(s, ws, 'hello', { env: { CLAUDE_CODE_MAX_RETRIES: '2', API_TIMEOUT_MS: '1500' } });
    const trace = s.requests.map((r) => `${r.time - s.requests[0]!.time}ms ${r.method} t${r.turnIndex} a${r.attempt} ${r.outcome}`);
    expect(run.code, `${run.stderr}\n${trace.join('\n')}`).toBe(0);
    expect(run.result).toMatchObject({ is_error: false, num_turns: 3, result: 'Finished after the hang.' });
    expect(await readFile(path.join(ws.project, 'a.txt'), 'utf8')).toBe('a\n');
    // The 500 and the hang are retried (api_retry lines); the cut goes straight to the non-stream fallback.
    const retries = run.lines.filter((l) => l.subtype === 'api_retry');
    expect(retries.map((r) => [r.attempt, r.max_retries, r.error_status])).toEqual([
      [1, 2, 500],
      [1, 2, null],
    ]);
    expect(s.messageRequests.map((r) => [r.turnIndex, r.attempt, r.outcome, (r.body as { stream?: boolean }).stream === true])).toEqual([
      [0, 1, 'error', true],
      [0, 2, 'stream', true],
      [1, 1, 'cut', true],
      [1, 2, 'json', false],
      [2, 1, 'hang', true], // the CLI gave up on it after API_TIMEOUT_MS
      [2, 2, 'stream', true],
    ]);
    // Worth knowing for consumers: the cut attempt's deltas were already printed before the fallback answered,
    // and the fallback itself prints no deltas, so that message's deltas are a prefix of its text.
    const streamed = streamedTexts(run);
    expect(streamed).toEqual(['Writing a.txt.', chunkText('Reading it back now.').slice(0, 2).join(''), 'Finished after the hang.']);
    expect(assistantTexts(run)).toEqual(['Writing a.txt.', 'Reading it back now.', 'Finished after the hang.']);
  });

  it('fails with exit 1 and is_error on a 400 and a 401, without retrying them', async () => {
    const [ws, ws401] = await Promise.all([workspace(), workspace()]);
    const [bad, unauthorized] = await Promise.all([serve([{ fault: { status: 400, message: 'scripted bad request' } }]), serve([{ fault: { status: 401 } }])]);
    const [r400, r401] = await Promise.all([
      runClaude(bad, ws, 'hello', { env: { CLAUDE_CODE_MAX_RETRIES: '2' } }),
      // 401 IS retried by default; with CLAUDE_CODE_MAX_RETRIES=0 it fails on the first answer.
      runClaude(unauthorized, ws401, 'hello', { env: { CLAUDE_CODE_MAX_RETRIES: '0' } }),
    ]);
    expect(r400.code).toBe(1);
    expect(r400.result).toMatchObject({ is_error: true, api_error_status: 400 });
    expect(r400.result!.result).toContain('scripted bad request');
    expect(bad.messageRequests).toHaveLength(1); // 400 is never retried

    expect(r401.code).toBe(1);
    expect(r401.result).toMatchObject({ is_error: true, api_error_status: 401 });
    expect(unauthorized.messageRequests).toHaveLength(1);
  });

  it('demo script: builds a playable game, then a resumed follow-up in Japanese Reads and Edits it', async () => {
    const ws = await workspace();
    const s = await serve(demoScript);
    const first = await runClaude(s, ws, 'Make a space shooter called "Comet Crusher"');
    expect(first.code, first.stderr).toBe(0);
    const html = await readFile(path.join(ws.project, 'index.html'), 'utf8');
    expect(html).toMatch(/<canvas[^>]*>/);
    expect(html).toContain('<title>Comet Crusher</title>');
    expect(html).toContain('requestAnimationFrame(frame)');
    expect(html).toContain('<meta name="dreamcore-demo" content="shooter">');
    // SPEC.md, then the game (no DreamCore skills or tools are installed here, so the demo uses none).
    expect(toolUses(first).map((t) => t.name)).toEqual(['Write', 'Write']);
    expect(first.result!.result).toContain('Comet Crusher');
    expect(streamedTexts(first)).toEqual(assistantTexts(first));
    const headless = playHeadless(html);
    headless.key('Space', true);
    headless.frames(120);
    expect(headless.get('state')).toBe('play');

    const sessionId = first.result!.session_id as string;
    const second = await runClaude(s, ws, '赤くして、もっと速くして', { args: ['--resume', sessionId] });
    expect(second.code, second.stderr).toBe(0);
    expect(second.result!.session_id).toBe(sessionId);
    expect(toolUses(second).map((t) => t.name)).toEqual(['Read', 'Edit']);
    const edited = await readFile(path.join(ws.project, 'index.html'), 'utf8');
    expect(JSON.parse(/const THEME = (\{.*?\});/.exec(edited)![1]!)).toMatchObject({ palette: 'red', speed: 1.5 });
    // Only the THEME line changed.
    const before = html.split('\n');
    expect(edited.split('\n').filter((line, i) => line !== before[i])).toHaveLength(1);
    expect(second.result!.result).toContain('赤');
    expect(second.result!.result).toContain('1.5倍');
    // --resume resent the whole history: the follow-up's turns continue after Write and its summary.
    expect(s.messageRequests.slice(-3).map((r) => r.turnIndex)).toEqual([3, 4, 5]);
  });

  it("a run's tools reach the model even when their MCP server answers its first request late (a busy server)", async () => {
    const ws = await workspace();
    const s = await serve([{ text: 'ok' }]);
    const proxy = await startKeyProxy({ upstream: s.url, apiKey: 'upstream-key' });
    // In front of the key proxy: the tools' first MCP request (the handshake) waits longer than the CLI's own 5 s.
    let first = true;
    const late = http.createServer((req, res) => {
      const delay = req.url?.startsWith('/mcp') && first ? LATE_MCP_MS : 0;
      if (delay) first = false;
      setTimeout(() => {
        const out = http.request(`${proxy.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode!, answer.headers);
          answer.pipe(res);
        });
        out.on('error', () => res.destroy());
        req.pipe(out);
      }, delay);
    });
    await new Promise<void>((resolve) => late.listen(0, '127.0.0.1', resolve));
    try {
      const tools: AgentTool[] = [
        { name: 'late_tool', description: 'A tool on a slow server', inputSchema: { type: 'object' }, handler: () => Promise.resolve('unused') },
      ];
      const { args, env } = claudeInvocation(
        { scope: { userId: 'u', projectId: 'p' }, prompt: 'hello', tools },
        {
          home: ws.home,
          configDir: path.join(ws.home, '.claude'),
          baseUrl: `http://127.0.0.1:${(late.address() as AddressInfo).port}`,
          token: proxy.issue(60_000, { tools }),
          model: 'claude-sonnet-4-5',
          permissionMode: 'acceptEdits',
        },
      );
      const run = await runCli(args, { ...env, PATH: process.env.PATH ?? env.PATH! }, ws.project);
      expect(run.code, run.stderr).toBe(0);
      const offered = (s.messageRequests[0]!.body as { tools: { name: string }[] }).tools.map((t) => t.name);
      expect(offered).toContain('mcp__dreamcore__late_tool');
    } finally {
      late.close();
      await proxy.close();
    }
  });
});
