/**
 * The key-injecting proxy: the agent never holds the provider key. Each run gets a random token that is only
 * good at this proxy, only while the run lives; the proxy swaps it for the real key and forwards the request
 * upstream (streaming both ways). Unknown or expired tokens are refused with the API's own error shape.
 *
 * It also serves the run's tools (RunClaudeRequest.tools) at `/mcp` to the holder of that run's token, so a tool
 * reaches the agent by the same URL as its model traffic, wherever the agent runs (tool-server.ts).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { AgentTool } from '../contract.js';
import { serveTools } from './tool-server.js';
import { readRequestBody } from '../request-body.js';

export interface KeyProxyOptions {
  /** Where requests go, e.g. https://api.anthropic.com or a scripted model server. */
  upstream: string;
  /** The real key, added as `x-api-key` upstream. Never sent to the agent. */
  apiKey: string;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port to listen on (default 0: any free port). A fixed port is what an ingress or a tunnel forwards to. */
  port?: number;
}

export interface KeyProxy {
  readonly url: string;
  /** The port it listens on (what an ingress or a tunnel forwards to). */
  readonly port: number;
  /** A new token valid until `revoke` or `ttlMs` passes; with `tools`, its holder may call them at `/mcp`. */
  issue(ttlMs: number, options?: { tools?: readonly AgentTool[] }): string;
  revoke(token: string): void;
  /** Requests forwarded and refused so far (for tests and metrics). */
  readonly stats: { forwarded: number; refused: number; toolRequests: number; retried: number };
  close(): Promise<void>;
}

/** A model request is at most 32 MB at the API; the body is held whole so it can be sent again (see forward). */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** How long a connection from the agent may sit idle between its requests (see server.keepAliveTimeout). */
const CLIENT_KEEP_ALIVE_MS = 65_000;
/** An idle upstream connection is dropped after this, or a second before the upstream's own hint, if sooner. */
const UPSTREAM_IDLE_MS = 30_000;
/** What a request on a connection the upstream had closed fails with. */
const STALE_CONNECTION = new Set(['ECONNRESET', 'EPIPE']);

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

function tokenOf(req: http.IncomingMessage): string | null {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key !== '') return key;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7);
  return null;
}

function refuse(res: http.ServerResponse, message: string): void {
  res.writeHead(401, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message } }));
}

export async function startKeyProxy(options: KeyProxyOptions): Promise<KeyProxy> {
  const upstream = new URL(options.upstream);
  const basePath = upstream.pathname.replace(/\/$/, '');
  const client = upstream.protocol === 'https:' ? https : http;
  // With a timeout, Node's agent also honours the upstream's `Keep-Alive: timeout=N` hint and drops an idle connection
  // a second before the upstream would (without one it keeps it until the upstream's close arrives, which a request
  // can meet half-way).
  const agent = new client.Agent({ keepAlive: true, timeout: UPSTREAM_IDLE_MS });
  // Each token's run: its tools and a signal that tells their handlers the run is over.
  const tokens = new Map<string, { expires: number; buf: Buffer; tools: readonly AgentTool[]; ended: AbortController }>();
  const drop = (token: string) => {
    tokens.get(token)?.ended.abort();
    tokens.delete(token);
  };
  const stats = { forwarded: 0, refused: 0, toolRequests: 0, retried: 0 };

  const valid = (token: string | null): boolean => {
    if (!token) return false;
    const entry = tokens.get(token);
    // Map lookup finds the candidate; the constant-time compare keeps the check itself free of timing leaks.
    if (!entry) return false;
    const given = Buffer.from(token);
    if (given.length !== entry.buf.length || !timingSafeEqual(given, entry.buf)) return false;
    if (Date.now() > entry.expires) {
      drop(token);
      return false;
    }
    return true;
  };

  /**
   * One request upstream. A kept-alive connection the upstream closed while it sat idle fails the next request that
   * reuses it (a reset, before any answer): that request never reached the upstream, so it is sent once more on a new
   * connection (Node's documented pattern, `request.reusedSocket`), instead of a 502 the agent would retry itself.
   */
  const forward = (method: string, path: string, headers: http.OutgoingHttpHeaders, body: Buffer, res: http.ServerResponse, mayRetry: boolean) => {
    let answered = false;
    const outbound = client.request(
      { protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port, method, path, headers, agent },
      (upstreamRes) => {
        answered = true;
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(upstreamRes.headers)) {
          if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
        }
        res.writeHead(upstreamRes.statusCode ?? 502, out);
        res.flushHeaders();
        upstreamRes.pipe(res);
        upstreamRes.on('error', () => res.destroy());
      },
    );
    outbound.on('error', (error: NodeJS.ErrnoException) => {
      if (!answered && mayRetry && outbound.reusedSocket && !res.destroyed && STALE_CONNECTION.has(error.code ?? '')) {
        stats.retried++;
        forward(method, path, headers, body, res, false);
      } else if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: `upstream unreachable: ${error.message}` } }));
      } else {
        res.destroy();
      }
    });
    // If the agent goes away mid-request, stop the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) outbound.destroy();
    });
    outbound.end(body);
  };

  const server = http.createServer((req, res) => {
    const token = tokenOf(req);
    if (!valid(token)) {
      stats.refused++;
      req.resume();
      refuse(res, 'unknown or expired run token');
      return;
    }
    if ((req.url ?? '/').split('?')[0] === '/mcp') {
      const run = tokens.get(token!)!;
      if (run.tools.length === 0) {
        req.resume();
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'this run has no tools' }));
        return;
      }
      stats.toolRequests++;
      serveTools(req, res, run.tools, run.ended.signal).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
      return;
    }
    stats.forwarded++;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && name !== 'x-api-key' && name !== 'authorization' && name !== 'content-length' && value !== undefined) {
        headers[name] = value;
      }
    }
    headers['x-api-key'] = options.apiKey;
    headers.host = upstream.host;
    readRequestBody(req, MAX_REQUEST_BYTES)
      .then((body) => {
        if (body === null) {
          res.writeHead(413, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'request_too_large', message: `request body over ${MAX_REQUEST_BYTES} bytes` } }));
          return;
        }
        headers['content-length'] = body.length;
        forward(req.method ?? 'GET', basePath + (req.url ?? '/'), headers, body, res, true);
      })
      .catch(() => res.destroy());
  });
  // Longer than any pause between two requests of one run (a tool call between model turns): the CLI reuses its
  // connection, and a reuse that meets this server's close is a reset the agent sees as a failed model request (an
  // "api_retry" in the middle of a turn, seen under load with the old 5 s).
  server.keepAliveTimeout = CLIENT_KEEP_ALIVE_MS;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    stats,
    issue(ttlMs, issueOptions = {}) {
      const token = `dcrun-${randomBytes(24).toString('base64url')}`;
      tokens.set(token, { expires: Date.now() + ttlMs, buf: Buffer.from(token), tools: issueOptions.tools ?? [], ended: new AbortController() });
      return token;
    },
    revoke(token) {
      drop(token);
    },
    async close() {
      for (const token of [...tokens.keys()]) drop(token);
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
