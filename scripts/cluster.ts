/**
 * `npm run cluster -- 3`: a cluster on this machine, for trying and for tests, without docker-compose: a throw-away
 * PostgreSQL 15 (Debian's binaries; `npm run setup` installs them), N server instances sharing it (DATABASE_URL)
 * and one data directory (the local backend's rule, server/src/instances.ts), and a small round-robin proxy on
 * loopback in front of them (HTTP and WebSocket upgrades), like a load balancer.
 *
 * Extra variables for the instances come from the environment (ANTHROPIC_API_KEY, EXECUTION_BACKEND=modal, …);
 * without an API key they run in demo mode. Ctrl-C stops everything and deletes the database and data directory.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where Debian's postgresql-15 puts its binaries (and a few images link them into /usr/local/bin). */
export const PG_BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/local/bin'];

export function pgBinary(name: string): string | null {
  for (const dir of PG_BIN_DIRS) {
    const file = path.join(dir, name);
    if (existsSync(file)) return file;
  }
  return null;
}

/** initdb and postgres refuse to run as root: as root, run them as the `postgres` user (Debian's package makes it). */
export function asPostgres(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

/** A new cluster in `dataDir`: trust auth (loopback and a private socket only), UTF-8, no fsync (throw-away). */
export async function initPostgres(initdb: string, dataDir: string): Promise<void> {
  const [cmd, args] = asPostgres(initdb, ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
  await run(cmd, args);
}

/** When root: the temp dir must belong to `postgres`, who runs the server in it. */
export function giveToPostgres(dir: string): void {
  if (process.getuid?.() !== 0) return;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Postgres {
  connectionString: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts the postmaster of `dataDir` with `settings` (pg_ctl, waiting until it accepts connections). The returned stop
 * (immediate, idempotent) also runs if this process exits first: pg_ctl daemonises the postmaster, which would otherwise
 * outlive a crashed caller. Used by startPostgres below and by the tests' PostgreSQL + PostgREST stack.
 */
export async function runPostgres(dataDir: string, logFile: string, settings: string): Promise<() => void> {
  const pgCtl = pgBinary('pg_ctl');
  if (!pgCtl) throw new Error(`PostgreSQL 15 not found in ${PG_BIN_DIRS.join(', ')}: run npm run setup (apt-get install postgresql-15)`);
  let running = true;
  const stop = () => {
    if (!running) return;
    running = false;
    process.removeListener('exit', stop);
    const [cmd, args] = asPostgres(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    try {
      execFileSync(cmd, args, { stdio: 'ignore' });
    } catch {
      // already gone
    }
  };
  process.once('exit', stop);
  const [cmd, args] = asPostgres(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '30', '-o', settings, 'start']);
  try {
    await run(cmd, args);
  } catch (error) {
    stop(); // pg_ctl may give up waiting on a postmaster that did start
    throw error;
  }
  return stop;
}

/** A throw-away PostgreSQL 15 on a random loopback port (trust auth, durability off: it is deleted on stop). */
export async function startPostgres(options: { maxConnections?: number; statementStats?: boolean } = {}): Promise<Postgres> {
  const initdb = pgBinary('initdb');
  if (!initdb) throw new Error(`PostgreSQL 15 not found in ${PG_BIN_DIRS.join(', ')}: run npm run setup (apt-get install postgresql-15)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'dreamcore-cluster-pg-'));
  giveToPostgres(dir);
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  await initPostgres(initdb, dataDir);
  let port: number;
  let stopCluster: () => void;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const settings = [
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}`,
      `-c max_connections=${options.maxConnections ?? 200}`,
      '-c fsync=off -c synchronous_commit=off -c full_page_writes=off',
      // pg_stat_statements counts statements as they end (pg_stat_database's counters can lag by seconds).
      ...(options.statementStats ? ['-c shared_preload_libraries=pg_stat_statements'] : []),
    ].join(' ');
    try {
      stopCluster = await runPostgres(dataDir, logFile, settings);
      break;
    } catch (error) {
      // Another process took the port between freePort() and the start: try another one.
      if (attempt >= 3) throw new Error(`PostgreSQL did not start: ${readFileSync(logFile, 'utf8').slice(-1500)}`, { cause: error });
    }
  }
  return {
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      stopCluster();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Instance {
  /** `A`, `B`, `C`, … */
  name: string;
  url: string;
  process: ChildProcess;
  /** Everything it printed (its pino log at LOG_LEVEL). */
  output: string[];
  /** Resolves when it has exited. */
  exited: Promise<void>;
}

export interface Cluster {
  /** The round-robin proxy: what a browser or a load balancer's clients use. */
  url: string;
  instances: Instance[];
  postgres: Postgres;
  dataDir: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** CLUSTER_NODE_ARGS: options for every instance's node (say `--cpu-prof --cpu-prof-dir=/tmp/prof`, which NODE_OPTIONS refuses). */
function nodeArgs(): string[] {
  return process.env.CLUSTER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
}

/** An instance is started as `npm start` starts the server: with the node options of package.json's `start` script. */
function startScriptArgs(): string[] {
  const start = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(' ');
  if (start[0] !== 'node' || start.at(-1) !== 'server/src/cli.ts')
    throw new Error(`package.json's start script is not "node … server/src/cli.ts": ${start.join(' ')}`);
  return start.slice(1);
}

/** One server process with DATABASE_URL; resolves once it listens. */
export function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, [...nodeArgs(), ...startScriptArgs()], {
    cwd: root,
    env: { ...env, INSTANCE_ID: `instance-${name}-${Math.random().toString(36).slice(2, 8)}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        if (output.length > 2000) output.shift();
        const match = /running: http:\/\/localhost:(\d+)/.exec(line);
        if (match) resolve({ name, url: `http://127.0.0.1:${match[1]}`, process: child, output, exited });
      });
    }
    child.once('exit', (code) => reject(new Error(`instance ${name} exited (${code}) before it listened:\n${output.slice(-30).join('\n')}`)));
  });
}

/** Round robin over the instances alive at the time, for plain requests and WebSocket upgrades alike. */
function startProxy(targets: () => Instance[]): Promise<http.Server> {
  let next = 0;
  const pick = () => {
    const alive = targets().filter((i) => i.process.exitCode === null && i.process.signalCode === null);
    if (alive.length === 0) return null;
    return new URL(alive[next++ % alive.length]!.url);
  };
  const server = http.createServer((req, res) => {
    const target = pick();
    if (!target) return void res.writeHead(502).end('no instance is up');
    const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.on('upgrade', (req, socket, head) => {
    const target = pick();
    if (!target) return void socket.destroy();
    const upstream = net.connect(Number(target.port), target.hostname, () => {
      const headers = Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `${k}: ${x}`) : [`${k}: ${v}`]));
      upstream.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    const close = () => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.on('error', close);
    socket.on('error', close);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * Postgres, `count` instances and the proxy. `env` adds to (and overrides) the instances' environment; the data
 * directory is one temp dir for all of them.
 */
export async function startCluster(count: number, env: Record<string, string> = {}, options: { statementStats?: boolean } = {}): Promise<Cluster> {
  const postgres = await startPostgres(options);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'dreamcore-cluster-data-'));
  const instanceEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    DATABASE_URL: postgres.connectionString,
    ...env,
  };
  const instances: Instance[] = [];
  let proxy: http.Server | null = null;
  const stop = async () => {
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    proxy?.closeAllConnections();
    await Promise.all(
      instances.map(async (instance) => {
        if (instance.process.exitCode !== null || instance.process.signalCode !== null) return;
        instance.process.kill('SIGTERM');
        const killer = setTimeout(() => instance.process.kill('SIGKILL'), 10_000);
        await instance.exited;
        clearTimeout(killer);
      }),
    );
    await postgres.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // The first applies the migrations; the others would wait on the runner's lock anyway.
    instances.push(await startInstance('A', instanceEnv));
    const names = Array.from({ length: count - 1 }, (_, i) => String.fromCharCode(66 + i));
    instances.push(...(await Promise.all(names.map((name) => startInstance(name, instanceEnv)))));
    proxy = await startProxy(() => instances);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, instances, postgres, dataDir, env: instanceEnv, stop };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const count = Number(process.argv[2] ?? 3);
  if (!Number.isInteger(count) || count < 1 || count > 26) {
    console.error('usage: npm run cluster -- <instances, 1–26>');
    process.exit(2);
  }
  const passThrough = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !k.startsWith('npm_'))) as Record<string, string>;
  const cluster = await startCluster(count, { ...passThrough, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', PORT: '0', HOST: '127.0.0.1' });
  console.log(`\n  DreamCore cluster: ${cluster.url}  (round robin over ${count} instances)`);
  for (const instance of cluster.instances) console.log(`    instance ${instance.name}: ${instance.url} (pid ${instance.process.pid})`);
  console.log(`    PostgreSQL 15: ${cluster.postgres.connectionString}\n    data: ${cluster.dataDir}\n  Ctrl-C stops everything.\n`);
  const shutdown = () => void cluster.stop().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
