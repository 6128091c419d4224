/**
 * Issue 5 / issue 13 figures: the Modal backend on the local Modal emulator beside the local backend running the same
 * script in the same process, with the per-RPC delay (a network round trip) swept over 20, 50 and 150 ms. Per user
 * action: RPCs made (by method), wall time, the ratio modal/local, and RTTs (wall time ÷ RPC delay: how many round
 * trips the action costs). Issue 13's goals at 50 ms: warm read, write, stat and list ≤ 1 RPC and ≤ 1.3 RTT; commit +
 * log ≤ 2 RTT over local's own git time (one call: `git.commit` with its `log` option); an agent turn ≤ 1.1× local (seed design: ≤ 1.2×). The agent turn is the
 * run with its commit and read done at its end (`after`, one round trip); a repeated warm read through the server's
 * read cache costs no RPC at all.
 *
 * Every exec also pays a modelled process start (gVisor on Modal): MODAL_EMULATOR_EXEC_MS if set, else the cost of
 * an exec of `true` measured here at 0 ms RPC delay (nsenter + process start on this machine), i.e. an exec costs at
 * least two native process starts: a conservative stand-in for gVisor's slower process creation.
 *
 * Standalone: node --conditions=source --import tsx bench/modal.ts [runs]   (or `npm run bench -- modal`)
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLocalBackend } from '@dreamcore/backend-local';
import { startModalEmulator, type ModalEmulator } from '@dreamcore/backend-modal/emulator';
import { createModalBackend, deployModal, type ModalBackend } from '@dreamcore/backend-modal';
import { startKeyProxy, withReadCache, type ExecutionBackend, type ProjectScope } from '@dreamcore/runtime-core';
import { startModelServer, type Turn } from '@dreamcore/runtime-core/testkit';
import { section, type Measurement } from './lib.js';

const RPC_DELAYS_MS = [20, 50, 150];
const SCRIPT: Turn[] = [
  { text: 'Writing the game.', toolUses: [{ name: 'Write', input: { file_path: 'index.html', content: '<!doctype html><canvas></canvas>\n' } }] },
  { text: 'Done.' },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
const fmt = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/**
 * One DreamCore turn as the server makes it: the agent run, whose end commits and reads index.html (`after`: in the
 * run's own round trip), or — `separate` — the run, then the commit, then the read (three calls: how it was before).
 */
async function agentTurn(backend: ExecutionBackend, scope: ProjectScope, separate = false): Promise<{ run: number; commit: number; read: number }> {
  const t0 = performance.now();
  const after = separate ? undefined : { commit: { subject: 'Update via Claude' }, read: ['index.html'] };
  const run = backend.runClaude({ scope, prompt: 'make a game', ...(after ? { after } : {}) });
  for await (const event of run) {
    if (event.type === 'error') throw new Error(`${event.error.code}: ${event.error.message}`);
  }
  const done = (await run.result).after;
  const t1 = performance.now();
  if (!separate && (!done?.commit?.committed || !done.files)) throw new Error('the run did not do its after');
  if (separate) await backend.git.commit(scope, 'Update via Claude');
  const t2 = performance.now();
  const html = done?.files?.['index.html'] ?? (await backend.files.readText(scope, 'index.html'));
  const t3 = performance.now();
  if (!html.includes('<canvas>')) throw new Error('the agent did not write index.html');
  return { run: t1 - t0, commit: t2 - t1, read: t3 - t2 };
}

/** What an exec costs on this machine with no RPC delay and no modelled start: the native process start. */
async function measureExecMs(emulator: ModalEmulator, backend: ModalBackend, userId: string): Promise<number> {
  emulator.setRpcDelayMs(0);
  emulator.setExecMs(0);
  const sandbox = await backend.userSandbox(userId);
  const times: number[] = [];
  for (let i = 0; i < 12; i++) {
    times.push(
      await timed(async () => {
        const proc = await sandbox.exec(['true'], { stdout: 'pipe', stderr: 'pipe' });
        await Promise.all([proc.stdout.readText(), proc.stderr.readText(), proc.wait()]);
      }),
    );
  }
  return median(times.slice(2));
}

interface Row {
  action: string;
  rpcs: Record<string, number>;
  modal: number;
  local: number;
}

export async function benchModal(runs = 5): Promise<Measurement[]> {
  const emulator: ModalEmulator = await startModalEmulator({ rpcDelayMs: 0 });
  process.env.MODAL_CONFIG_PATH = path.join(emulator.stateDir, 'no-modal.toml');
  const model = await startModelServer({ script: SCRIPT, maxRecorded: 10 });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-modal-local-'));
  const agent = { anthropicApiKey: 'sk-bench', anthropicBaseUrl: model.url };
  const env = emulator.clientEnv();
  // As in production: the images are deployed before users come.
  await deployModal(
    {
      serverUrl: env.MODAL_SERVER_URL,
      tokenId: env.MODAL_TOKEN_ID,
      tokenSecret: env.MODAL_TOKEN_SECRET,
      appName: 'bench',
      skillsDir: path.join(dataDir, 'no-skills-folder'),
      log: () => undefined,
    },
    {},
  );
  // As in production: the key proxy on this machine, reached by sandboxes only at its public address.
  const keyProxy = await startKeyProxy({ upstream: model.url, apiKey: agent.anthropicApiKey });
  const proxyPublicUrl = (await emulator.publish(keyProxy.port)).url;
  const makeModal = () =>
    createModalBackend({
      serverUrl: env.MODAL_SERVER_URL,
      tokenId: env.MODAL_TOKEN_ID,
      tokenSecret: env.MODAL_TOKEN_SECRET,
      appName: 'bench',
      agent: { keyProxy, proxyPublicUrl },
      log: () => undefined,
    });
  // The emulator's sandboxes run at the normal CPU priority: so does the local backend's agent here (in production it
  // runs at nice 19, which on a loaded machine makes the local side of the comparison, not the Modal one, slower).
  const local = createLocalBackend({ dataDir, agent, processNiceness: 0 });
  const modal = makeModal();
  const out: Measurement[] = [];
  try {
    const userId = randomUUID();
    const measuredExecMs = await measureExecMs(emulator, modal, userId);
    const fromEnv = Number(process.env.MODAL_EMULATOR_EXEC_MS);
    const execMs = Number.isFinite(fromEnv) && process.env.MODAL_EMULATOR_EXEC_MS ? fromEnv : Math.round(measuredExecMs);
    emulator.setExecMs(execMs);
    section(
      `Modal backend on the emulator vs the local backend (${runs} runs each; every exec + ${execMs} ms process start, measured: ${measuredExecMs.toFixed(1)} ms)`,
    );

    for (const delay of RPC_DELAYS_MS) {
      emulator.setRpcDelayMs(delay);
      const rows: Row[] = [];
      const paired = new Map<string, { over: number; ratio: number }>();
      const row = (action: string, modalMs: number[], localMs: number[], rpcs: Record<string, number>) => {
        const r = { action, rpcs, modal: median(modalMs), local: median(localMs) };
        rows.push(r);
        out.push({
          name: `${action} @ ${delay} ms/RPC`,
          baseline: 'local backend',
          ours: r.modal,
          base: r.local,
          ratio: r.modal / r.local,
          unit: `${total(rpcs)} RPCs`,
        });
      };

      // Cold first action: a new backend process and a new user: client, app, volumes, image, sandbox, then the write.
      {
        const cold: number[] = [];
        const coldLocal: number[] = [];
        let rpcs: Record<string, number> = {};
        for (let i = 0; i < Math.max(3, Math.ceil(runs / 2)); i++) {
          const fresh = makeModal();
          emulator.resetCounts();
          cold.push(await timed(() => fresh.files.write({ userId: randomUUID(), projectId: randomUUID() }, 'index.html', 'hello')));
          rpcs = emulator.rpcCounts();
          await fresh.close();
          const freshLocal = createLocalBackend({ dataDir: mkdtempSync(path.join(tmpdir(), 'bench-modal-cold-')) });
          coldLocal.push(await timed(() => freshLocal.files.write({ userId: randomUUID(), projectId: randomUUID() }, 'index.html', 'hello')));
          await freshLocal.close();
        }
        row('cold first action (new process, new user: write)', cold, coldLocal, rpcs);
      }

      // A new user (volume and sandbox) per delay: the emulator's commit walks the whole volume, so a volume that grew
      // over the earlier sweeps would make the later ones slower for reasons that have nothing to do with the delay.
      const scope: ProjectScope = { userId: randomUUID(), projectId: randomUUID() };
      const localScope: ProjectScope = { userId: randomUUID(), projectId: randomUUID() };
      await modal.prewarm(scope);
      await modal.files.write(scope, 'index.html', 'v0');
      await modal.git.init(scope);
      await local.files.write(localScope, 'index.html', 'v0');
      await local.git.init(localScope);

      const warm = async (action: string, m: (i: number) => Promise<unknown>, l: (i: number) => Promise<unknown>) => {
        const ms: number[] = [];
        const ls: number[] = [];
        let rpcs: Record<string, number> = {};
        for (let i = 0; i < runs * 2; i++) {
          emulator.resetCounts();
          ms.push(await timed(() => m(i)));
          rpcs = emulator.rpcCounts();
          ls.push(await timed(() => l(i)));
        }
        row(action, ms, ls, rpcs);
      };
      await warm(
        'warm file write',
        (i) => modal.files.write(scope, 'game.js', `v${i}`),
        (i) => local.files.write(localScope, 'game.js', `v${i}`),
      );
      await warm(
        'warm file read',
        () => modal.files.readText(scope, 'game.js'),
        () => local.files.readText(localScope, 'game.js'),
      );
      await warm(
        'warm stat',
        () => modal.files.stat(scope, 'game.js'),
        () => local.files.stat(localScope, 'game.js'),
      );
      // A picture-sized file (the helper's framing must not copy a large request or answer once per chunk).
      const big = new Uint8Array(5 * 1024 * 1024).map((_, i) => i & 255);
      await warm(
        'warm 5 MiB write',
        () => modal.files.write(scope, 'big.bin', big),
        () => local.files.write(localScope, 'big.bin', big),
      );
      await warm(
        'warm 5 MiB read',
        () => modal.files.read(scope, 'big.bin'),
        () => local.files.read(localScope, 'big.bin'),
      );
      await warm(
        'warm list',
        () => modal.files.list(scope),
        () => local.files.list(localScope),
      );
      // A new game as the server makes it (createProject): its index.html, then its repository and first commit.
      const newGame = async (b: ExecutionBackend, userId: string) => {
        const game = { userId, projectId: randomUUID() };
        await b.files.write(game, 'index.html', '<!doctype html>');
        await b.git.init(game, { message: 'Initial project setup' });
      };
      await warm(
        'new project (write + git init)',
        () => newGame(modal, scope.userId),
        () => newGame(local, localScope.userId),
      );

      // Warm commit + log (a change to commit each time): the commit answering the history page after it (the
      // `log` option: one call, one round trip), and, at 50 ms, the two calls for comparison.
      for (const separate of delay === 50 ? [false, true] : [false]) {
        const commit: number[] = [];
        const commitLocal: number[] = [];
        let rpcs: Record<string, number> = {};
        const commitAndLog = async (b: ExecutionBackend, s: ProjectScope, message: string) => {
          if (!separate) return (await b.git.commit(s, message, { log: { limit: 20 } })).log!;
          await b.git.commit(s, message);
          return b.git.log(s, { limit: 20 });
        };
        for (let i = 0; i < runs; i++) {
          await modal.files.write(scope, 'index.html', `v${i + 1}${separate ? 's' : ''}`);
          await local.files.write(localScope, 'index.html', `v${i + 1}${separate ? 's' : ''}`);
          emulator.resetCounts();
          commit.push(await timed(() => commitAndLog(modal, scope, `change ${i}`)));
          rpcs = emulator.rpcCounts();
          commitLocal.push(await timed(() => commitAndLog(local, localScope, `change ${i}`)));
        }
        row(separate ? 'warm commit; log (2 calls)' : 'warm commit + log', commit, commitLocal, rpcs);
      }

      // A whole scripted agent turn on an existing project (created with its first commit, as the server does): the
      // run with its commit and the read of index.html in its own round trip (`after`), as the server makes it; at
      // 50 ms also the same three steps as separate calls, for comparison.
      for (const separate of delay === 50 ? [false, true] : [false]) {
        const turn: number[] = [];
        const turnLocal: number[] = [];
        const parts = { modal: [] as { run: number; commit: number; read: number }[], local: [] as { run: number; commit: number; read: number }[] };
        let rpcs: Record<string, number> = {};
        // Twice as many turns as other actions, in pairs whose order alternates: a turn is seconds of CLI work on a
        // shared machine, whose load drifts by more than the difference measured; a pair's difference cancels the drift.
        for (let i = 0; i <= runs * 2; i++) {
          const p: ProjectScope = { userId: scope.userId, projectId: randomUUID() };
          const lp: ProjectScope = { userId: localScope.userId, projectId: randomUUID() };
          for (const [b, s] of [
            [modal, p],
            [local, lp],
          ] as const) {
            await b.files.write(s, 'README.md', 'x');
            await b.git.init(s);
          }
          const localFirst = i % 2 === 0;
          const l0 = localFirst ? await agentTurn(local, lp, separate) : undefined;
          emulator.resetCounts();
          const m = await agentTurn(modal, p, separate);
          const counted = emulator.rpcCounts();
          const l = l0 ?? (await agentTurn(local, lp, separate));
          if (i === 0) continue; // warm-up (first CLI start, proxy start)
          const sum = (x: { run: number; commit: number; read: number }) => x.run + x.commit + x.read;
          turn.push(sum(m));
          turnLocal.push(sum(l));
          parts.modal.push(m);
          parts.local.push(l);
          rpcs = counted;
        }
        row(separate ? 'agent turn, 3 calls (run; commit; read)' : 'agent turn (run + commit + read index.html)', turn, turnLocal, rpcs);
        const over = median(turn.map((t, k) => t - turnLocal[k]!));
        paired.set(separate ? 'separate' : 'after', { over, ratio: 1 + over / median(turnLocal) });
        rows.push({
          action: `  (paired: modal − local median ${over >= 0 ? '+' : ''}${over.toFixed(0)} ms = ${(over / delay).toFixed(2)} RTT, ${(1 + over / median(turnLocal)).toFixed(2)}× local)`,
          rpcs: {},
          modal: NaN,
          local: NaN,
        });
        if (separate) {
          const split = (['run', 'commit', 'read'] as const).map((k) => {
            const mm = median(parts.modal.map((x) => x[k]));
            const ll = median(parts.local.map((x) => x[k]));
            return `${k} +${(mm - ll).toFixed(0)} ms`;
          });
          rows.push({ action: `  (over local: ${split.join(', ')})`, rpcs: {}, modal: NaN, local: NaN });
        }
      }

      // The server's read cache (runtime-core withReadCache) in front of each: a repeated warm read is a hit.
      {
        const cachedModal = withReadCache(modal);
        const cachedLocal = withReadCache(local);
        await cachedModal.files.readText(scope, 'game.js');
        await cachedLocal.files.readText(localScope, 'game.js');
        await warm(
          'warm read, read cache hit',
          () => cachedModal.files.readText(scope, 'game.js'),
          () => cachedLocal.files.readText(localScope, 'game.js'),
        );
      }

      console.log(`\n  ${delay} ms per RPC`);
      console.log(
        `  ${'action'.padEnd(50)} ${'RPCs'.padStart(5)} ${'modal ms'.padStart(9)} ${'local ms'.padStart(9)} ${'ratio'.padStart(8)} ${'RTTs'.padStart(6)}`,
      );
      for (const r of rows) {
        if (Number.isNaN(r.modal)) {
          console.log(`  ${r.action}`);
          continue;
        }
        console.log(
          `  ${r.action.padEnd(50)} ${String(total(r.rpcs)).padStart(5)} ${r.modal.toFixed(1).padStart(9)} ${r.local.toFixed(1).padStart(9)} ` +
            `${(r.modal / r.local).toFixed(2).padStart(7)}× ${(r.modal / delay).toFixed(2).padStart(6)}`,
        );
      }
      console.log(
        `  RPCs by method: ${rows
          .filter((r) => total(r.rpcs) > 0)
          .map((r) => `${r.action.split(' (')[0]}: ${fmt(r.rpcs)}`)
          .join('; ')}`,
      );
      if (delay === 50) {
        const at = (name: string) => rows.find((r) => r.action.startsWith(name))!;
        const goals = [
          ...['warm file read', 'warm file write', 'warm stat', 'warm list'].map((name) => {
            const r = at(name);
            return `${name}: ${total(r.rpcs)} RPC, ${(r.modal / delay).toFixed(2)} RTT (goal ≤ 1 RPC, ≤ 1.3 RTT) ${total(r.rpcs) <= 1 && r.modal / delay <= 1.3 ? 'met' : 'NOT met'}`;
          }),
          (() => {
            const r = at('warm commit + log');
            const over = (r.modal - r.local) / delay;
            return `commit + log: ${over.toFixed(2)} RTT over local (goal ≤ 2) ${over <= 2 ? 'met' : 'NOT met'}`;
          })(),
          (() => {
            const r = at('agent turn');
            const { ratio } = paired.get('after')!;
            return (
              `agent turn: ${(r.modal / r.local).toFixed(2)}× local by medians, ${ratio.toFixed(2)}× by paired differences ` +
              `(goal ≤ 1.1, seed ≤ 1.2) ${ratio <= 1.1 ? 'met' : 'NOT met'}`
            );
          })(),
        ];
        for (const g of goals) console.log(`  goal at 50 ms: ${g}`);
      }
    }
  } finally {
    await modal.close();
    await local.close();
    await keyProxy.close();
    await model.close();
    await emulator.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchModal(Number(process.argv[2] ?? 5));
}
