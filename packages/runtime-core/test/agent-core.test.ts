import http from 'node:http';
import type * as Net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunChannel, startKeyProxy, StreamJsonTranslator, errorCodeForApiFailure, type AgentEvent, type KeyProxy } from '@dreamcore/runtime-core';

describe('key proxy', () => {
  let upstream: http.Server;
  let seen: { key: string | undefined; auth: string | undefined; path: string | undefined; body: string }[] = [];
  let proxy: KeyProxy;

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ key: req.headers['x-api-key'] as string, auth: req.headers.authorization, path: req.url, body });
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: ping\ndata: {}\n\n');
        setTimeout(() => res.end('event: done\ndata: {}\n\n'), 30);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    proxy = await startKeyProxy({ upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/base`, apiKey: 'sk-real' });
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((r) => upstream.close(r));
  });

  const call = (headers: Record<string, string>) =>
    fetch(`${proxy.url}/v1/messages?beta=true`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"x":1}' });

  it('swaps a live run token for the real key and streams the answer back', async () => {
    seen = [];
    const token = proxy.issue(10_000);
    const res = await call({ 'x-api-key': token });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('event: ping\ndata: {}\n\nevent: done\ndata: {}\n\n');
    expect(seen).toEqual([{ key: 'sk-real', auth: undefined, path: '/base/v1/messages?beta=true', body: '{"x":1}' }]);
    expect(token).not.toContain('sk-real');
  });

  it('accepts the token as a bearer too, and never forwards it', async () => {
    seen = [];
    const token = proxy.issue(10_000);
    expect((await call({ authorization: `Bearer ${token}` })).status).toBe(200);
    expect(seen[0]).toMatchObject({ key: 'sk-real', auth: undefined });
  });

  it('refuses unknown, revoked and expired tokens without reaching upstream', async () => {
    seen = [];
    const revoked = proxy.issue(10_000);
    proxy.revoke(revoked);
    const expired = proxy.issue(1);
    await new Promise((r) => setTimeout(r, 10));
    for (const headers of [
      {} as Record<string, string>,
      { 'x-api-key': 'sk-real' },
      { 'x-api-key': 'dcrun-guess' },
      { 'x-api-key': revoked },
      { 'x-api-key': expired },
    ]) {
      const res = await call(headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    }
    expect(seen).toEqual([]);
    expect(proxy.stats.refused).toBeGreaterThanOrEqual(5);
  });
});

describe('key proxy: kept-alive upstream connections', () => {
  // An upstream whose answers say how long it keeps an idle connection, and which can close one the moment a request
  // arrives on it (what a request meets when it reuses a connection the upstream is closing).
  let upstream: http.Server;
  let proxy: KeyProxy;
  let closeReused = false;
  const served: string[] = [];
  /** The connection (its index in `sockets`) each request arrived on. */
  const servedOn: number[] = [];
  const sockets: Net.Socket[] = [];
  const closedByClient: boolean[] = [];

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      const socket = req.socket as Net.Socket & { served?: number };
      socket.served = (socket.served ?? 0) + 1;
      if (closeReused && socket.served > 1) {
        socket.destroy();
        return;
      }
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        served.push(body);
        servedOn.push(sockets.indexOf(socket));
        res.writeHead(200, { 'content-type': 'application/json', 'keep-alive': 'timeout=2' });
        res.end('{"ok":true}');
      });
    });
    upstream.keepAliveTimeout = 60_000;
    upstream.on('connection', (socket) => {
      sockets.push(socket);
      const index = closedByClient.push(false) - 1;
      socket.on('end', () => (closedByClient[index] = true));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    proxy = await startKeyProxy({ upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, apiKey: 'sk-real' });
  });
  afterAll(async () => {
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  const call = (token: string, body: string) =>
    fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': token }, body });

  it('a request whose reused connection the upstream had closed is sent again on a new one, not failed', async () => {
    closeReused = true;
    const token = proxy.issue(10_000);
    served.length = 0;
    expect((await call(token, '{"turn":1}')).status).toBe(200);
    const second = await call(token, '{"turn":2}');
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ ok: true });
    // The second went out on the first's connection, was cut, and reached the upstream once, whole, on a new one.
    expect(served).toEqual(['{"turn":1}', '{"turn":2}']);
    expect(proxy.stats.retried).toBe(1);
    closeReused = false;
  });

  it("follows the upstream's keep-alive hint: an idle connection is closed from this side before the upstream would", async () => {
    const token = proxy.issue(10_000);
    expect((await call(token, '{}')).status).toBe(200);
    const used = servedOn.at(-1)!;
    expect(used).toBeGreaterThanOrEqual(0);
    // The upstream keeps it for 60 s but says 2: the proxy ends the connection this request used after about a
    // second (the poll gives up after 20), from its side, before any request meets the upstream's close; and every
    // other connection is gone too.
    await expect.poll(() => closedByClient[used]).toBe(true);
    await expect.poll(() => sockets.every((socket) => socket.destroyed)).toBe(true);
  });
});

describe('stream-json translator', () => {
  const feed = async (lines: object[], exit: { exitCode: number | null; signal?: string | null }) => {
    const run = new RunChannel();
    const t = new StreamJsonTranslator(run);
    for (const line of lines) t.line(JSON.stringify(line));
    t.line('not json at all');
    await t.finish(exit);
    const events: AgentEvent[] = [];
    for await (const e of run) events.push(e);
    return { events, result: await run.result.catch((e) => e) };
  };
  const init = { type: 'system', subtype: 'init', session_id: 'abc-123-def', model: 'm1' };
  const assistant = (id: string, text: string) => ({ type: 'assistant', session_id: 'abc-123-def', message: { id, content: [{ type: 'text', text }] } });

  it('emits whole text when nothing was streamed (non-stream fallback)', async () => {
    const { events, result } = await feed(
      [
        init,
        assistant('m1', 'Hello there'),
        {
          type: 'result',
          subtype: 'success',
          is_error: false,
          result: 'Hello there',
          session_id: 'abc-123-def',
          total_cost_usd: 0.01,
          usage: { input_tokens: 5, output_tokens: 3 },
          duration_ms: 10,
          num_turns: 1,
        },
      ],
      { exitCode: 0 },
    );
    expect(events.map((e) => e.type)).toEqual(['started', 'text', 'status', 'result']);
    expect(result).toMatchObject({ text: 'Hello there', sessionId: 'abc-123-def', costUsd: 0.01, usage: { inputTokens: 5, outputTokens: 3 } });
  });

  it('maps API failures reported in the result line', async () => {
    const { result } = await feed([init, { type: 'result', subtype: 'success', is_error: true, api_error_status: 429, result: 'rate limited' }], {
      exitCode: 1,
    });
    expect(result).toMatchObject({ code: 'RATE_LIMIT', message: 'rate limited' });
    expect(errorCodeForApiFailure(null, 'Connection error.')).toBe('NETWORK_ERROR');
    expect(errorCodeForApiFailure(500, 'x')).toBe('NETWORK_ERROR');
    expect(errorCodeForApiFailure(401, 'x')).toBe('AUTH_ERROR');
    expect(errorCodeForApiFailure(null, 'Request timed out.')).toBe('API_TIMEOUT');
  });

  it('maps deaths without a result line to exit-code errors', async () => {
    expect((await feed([init], { exitCode: 143 })).result).toMatchObject({ code: 'CLI_TERMINATED' });
    expect((await feed([init], { exitCode: null, signal: 'SIGKILL' })).result).toMatchObject({ code: 'CLI_KILLED' });
    expect((await feed([], { exitCode: 2 })).result).toMatchObject({ code: 'CLI_GENERAL_ERROR' });
  });
});
