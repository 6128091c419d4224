/**
 * Issue 5 figures: the Modal backend on the local Modal emulator with a fixed 50 ms delay per RPC (a network round
 * trip), beside the local backend running the same script in the same process. Reported per user action: RPCs made
 * (by method) and wall time, and the ratio modal/local. The seed design's criterion: a whole generation turn on
 * Modal takes at most 20% longer than local (goal ratio ≤ 1.2).
 *
 * Standalone: node --conditions=source --import tsx bench/modal.ts [runs]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLocalBackend } from '@dreamcore/backend-local';
import { startModalEmulator, type ModalEmulator } from '@dreamcore/backend-modal/emulator';
import { createModalBackend, deployModal } from '@dreamcore/backend-modal';
import { startKeyProxy, type ExecutionBackend, type ProjectScope } from '@dreamcore/runtime-core';
import { startModelServer, type Turn } from '@dreamcore/runtime-core/testkit';
import { report, section, type Measurement } from './lib.js';

const RPC_DELAY_MS = 50;
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

/** One DreamCore turn: the agent run, the commit the server makes after it, and the preview's read of index.html. */
async function agentTurn(backend: ExecutionBackend, scope: ProjectScope): Promise<{ run: number; commit: number; read: number }> {
  const t0 = performance.now();
  for await (const event of backend.runClaude({ scope, prompt: 'make a game' })) {
    if (event.type === 'error') throw new Error(`${event.error.code}: ${event.error.message}`);
  }
  const t1 = performance.now();
  await backend.git.commit(scope, 'Update via Claude');
  const t2 = performance.now();
  const html = await backend.files.readText(scope, 'index.html');
  const t3 = performance.now();
  if (!html.includes('<canvas>')) throw new Error('the agent did not write index.html');
  return { run: t1 - t0, commit: t2 - t1, read: t3 - t2 };
}

export async function benchModal(runs = 5): Promise<Measurement[]> {
  const emulator: ModalEmulator = await startModalEmulator({ rpcDelayMs: RPC_DELAY_MS });
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
  const local = createLocalBackend({ dataDir, agent });
  const out: Measurement[] = [];
  const measure = (name: string, ours: number[], base: number[], goal?: number, rpcs?: Record<string, number>) => {
    const m: Measurement = {
      name,
      baseline: 'local backend',
      ours: median(ours),
      base: median(base),
      ratio: median(ours) / median(base),
      ...(goal ? { goal } : {}),
    };
    report(m);
    if (rpcs) console.log(`    RPCs per action: ${total(rpcs)} (${fmt(rpcs)})`);
    out.push(rpcs ? { ...m, unit: `${total(rpcs)} RPCs` } : m);
  };
  try {
    section(`Modal backend on the emulator (${RPC_DELAY_MS} ms per RPC) vs the local backend, ${runs} runs each`);

    // Cold first action: a new backend process and a new user: client, app, volumes, image, sandbox, then the write.
    const cold: number[] = [];
    const coldLocal: number[] = [];
    let coldRpcs: Record<string, number> = {};
    for (let i = 0; i < Math.max(3, Math.ceil(runs / 2)); i++) {
      const fresh = makeModal();
      emulator.resetCounts();
      cold.push(await timed(() => fresh.files.write({ userId: randomUUID(), projectId: randomUUID() }, 'index.html', 'hello')));
      coldRpcs = emulator.rpcCounts();
      await fresh.close();
      const freshLocal = createLocalBackend({ dataDir: mkdtempSync(path.join(tmpdir(), 'bench-modal-cold-')) });
      coldLocal.push(await timed(() => freshLocal.files.write({ userId: randomUUID(), projectId: randomUUID() }, 'index.html', 'hello')));
      await freshLocal.close();
    }
    measure('cold first action (new process, new user: write)', cold, coldLocal, undefined, coldRpcs);

    const modal = makeModal();
    try {
      const scope: ProjectScope = { userId: randomUUID(), projectId: randomUUID() };
      const localScope: ProjectScope = { userId: randomUUID(), projectId: randomUUID() };
      await modal.prewarm(scope);
      await modal.files.write(scope, 'index.html', 'v0');
      await modal.git.init(scope);
      await local.files.write(localScope, 'index.html', 'v0');
      await local.git.init(localScope);

      // Warm file write.
      const write: number[] = [];
      const writeLocal: number[] = [];
      let writeRpcs: Record<string, number> = {};
      for (let i = 0; i < runs * 2; i++) {
        emulator.resetCounts();
        write.push(await timed(() => modal.files.write(scope, 'game.js', `v${i}`)));
        writeRpcs = emulator.rpcCounts();
        writeLocal.push(await timed(() => local.files.write(localScope, 'game.js', `v${i}`)));
      }
      measure('warm file write', write, writeLocal, undefined, writeRpcs);

      // Warm read.
      const read: number[] = [];
      const readLocal: number[] = [];
      let readRpcs: Record<string, number> = {};
      for (let i = 0; i < runs * 2; i++) {
        emulator.resetCounts();
        read.push(await timed(() => modal.files.readText(scope, 'game.js')));
        readRpcs = emulator.rpcCounts();
        readLocal.push(await timed(() => local.files.readText(localScope, 'game.js')));
      }
      measure('warm file read', read, readLocal, undefined, readRpcs);

      // Warm commit + log.
      const commit: number[] = [];
      const commitLocal: number[] = [];
      let commitRpcs: Record<string, number> = {};
      for (let i = 0; i < runs; i++) {
        await modal.files.write(scope, 'index.html', `v${i + 1}`);
        await local.files.write(localScope, 'index.html', `v${i + 1}`);
        emulator.resetCounts();
        commit.push(
          await timed(async () => {
            await modal.git.commit(scope, `change ${i}`);
            await modal.git.log(scope, { limit: 20 });
          }),
        );
        commitRpcs = emulator.rpcCounts();
        commitLocal.push(
          await timed(async () => {
            await local.git.commit(localScope, `change ${i}`);
            await local.git.log(localScope, { limit: 20 });
          }),
        );
      }
      measure('warm commit + log', commit, commitLocal, undefined, commitRpcs);

      // A whole scripted agent turn on an existing project (created with its first commit, as the server does):
      // run (the real CLI on the scripted model) + commit + read index.html.
      const turn: number[] = [];
      const turnLocal: number[] = [];
      const parts = { modal: [] as { run: number; commit: number; read: number }[], local: [] as { run: number; commit: number; read: number }[] };
      let turnRpcs: Record<string, number> = {};
      for (let i = 0; i <= runs; i++) {
        const p: ProjectScope = { userId: scope.userId, projectId: randomUUID() };
        const lp: ProjectScope = { userId: localScope.userId, projectId: randomUUID() };
        for (const [b, s] of [
          [modal, p],
          [local, lp],
        ] as const) {
          await b.files.write(s, 'README.md', 'x');
          await b.git.init(s);
        }
        emulator.resetCounts();
        const m = await agentTurn(modal, p);
        const rpcs = emulator.rpcCounts();
        const l = await agentTurn(local, lp);
        if (i === 0) continue; // warm-up (first CLI start, proxy start)
        const sum = (x: { run: number; commit: number; read: number }) => x.run + x.commit + x.read;
        turn.push(sum(m));
        turnLocal.push(sum(l));
        parts.modal.push(m);
        parts.local.push(l);
        turnRpcs = rpcs;
        process.stdout.write(
          `    turn ${i}: modal ${sum(m).toFixed(0)} ms (run ${m.run.toFixed(0)}, commit ${m.commit.toFixed(0)}, read ${m.read.toFixed(0)}), ` +
            `local ${sum(l).toFixed(0)} ms (run ${l.run.toFixed(0)}, commit ${l.commit.toFixed(0)}, read ${l.read.toFixed(0)})\n`,
        );
      }
      measure('agent turn (run + commit + read index.html)', turn, turnLocal, 1.2, turnRpcs);
      for (const k of ['run', 'commit', 'read'] as const) {
        const mm = median(parts.modal.map((x) => x[k]));
        const ll = median(parts.local.map((x) => x[k]));
        console.log(`    ${k.padEnd(6)} median: modal ${mm.toFixed(0)} ms, local ${ll.toFixed(0)} ms, +${(mm - ll).toFixed(0)} ms`);
      }
    } finally {
      await modal.close();
    }
  } finally {
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
