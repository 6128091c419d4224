/**
 * Issue 3 figures: runClaude (confined, through the key proxy) against the same `claude` binary run directly
 * on the same scripted model; and the key proxy's added latency per request.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLocalBackend, defaultClaudePath } from '@dreamcore/backend-local';
import { startKeyProxy } from '@dreamcore/runtime-core';
import { startModelServer, type Turn } from '@dreamcore/runtime-core/testkit';
import { compare, report, section, type Measurement } from './lib.js';

const SCRIPT: Turn[] = [
  { text: 'Writing the game.', toolUses: [{ name: 'Write', input: { file_path: 'index.html', content: '<canvas></canvas>' } }] },
  { text: 'Done.' },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One direct CLI run: wall time and time to its first stdout line (the init line = our `started`). */
function direct(cwd: string, baseUrl: string, home: string): Promise<{ wall: number; first: number }> {
  const start = performance.now();
  let first = 0;
  const child = spawn(
    defaultClaudePath(),
    ['-p', 'make a game', '--output-format', 'stream-json', '--verbose', '--include-partial-messages', '--permission-mode', 'acceptEdits', '--model', 'sonnet'],
    {
      cwd,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: {
        HOME: home,
        CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
        ANTHROPIC_BASE_URL: baseUrl,
        ANTHROPIC_API_KEY: 'sk-direct',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_ERROR_REPORTING: '1',
        CLAUDE_CODE_MAX_RETRIES: '3',
        PATH: '/usr/local/bin:/usr/bin:/bin',
        LANG: 'C.UTF-8',
      },
    },
  );
  createInterface({ input: child.stdout! }).once('line', () => (first ||= performance.now() - start));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve({ wall: performance.now() - start, first }));
  });
}

export async function benchAgent(runs = 5): Promise<Measurement[]> {
  const model = await startModelServer({ script: SCRIPT, maxRecorded: 10 });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-agent-'));
  const backend = createLocalBackend({ dataDir, agent: { anthropicApiKey: 'sk-bench', anthropicBaseUrl: model.url } });
  const out: Measurement[] = [];
  try {
    section(`runClaude (bubblewrap + key proxy) vs the claude binary run directly, ${runs} runs each, scripted model`);
    const ours = { wall: [] as number[], first: [] as number[] };
    const base = { wall: [] as number[], first: [] as number[] };
    for (let i = 0; i <= runs; i++) {
      const scope = { userId: randomUUID(), projectId: randomUUID() };
      await backend.files.write(scope, 'README.md', 'x');
      const start = performance.now();
      let first = 0;
      for await (const event of backend.runClaude({ scope, prompt: 'make a game' })) {
        if (!first) first = performance.now() - start;
        if (event.type === 'error') throw new Error(event.error.message);
      }
      const wall = performance.now() - start;
      const cwd = mkdtempSync(path.join(tmpdir(), 'bench-direct-'));
      const d = await direct(cwd, model.url, mkdtempSync(path.join(tmpdir(), 'bench-home-')));
      if (i === 0) continue; // warm-up
      ours.wall.push(wall);
      ours.first.push(first);
      base.wall.push(d.wall);
      base.first.push(d.first);
      process.stdout.write(
        `  run ${i}: ours ${wall.toFixed(0)} ms (first event ${first.toFixed(0)} ms), direct ${d.wall.toFixed(0)} ms (first line ${d.first.toFixed(0)} ms)\n`,
      );
    }
    const wall = {
      name: 'runClaude wall time',
      baseline: 'claude direct',
      ours: median(ours.wall),
      base: median(base.wall),
      ratio: median(ours.wall) / median(base.wall),
      goal: 1.05,
    };
    report(wall);
    out.push(wall);
    const added = median(ours.first) - median(base.first);
    console.log(
      `  first-event latency: ours ${median(ours.first).toFixed(0)} ms vs direct ${median(base.first).toFixed(0)} ms: +${added.toFixed(0)} ms (goal ≤ 20 ms) ${added <= 20 ? 'met' : 'NOT met'}`,
    );
    out.push({
      name: 'first event added latency (ms)',
      baseline: 'claude direct first line',
      ours: median(ours.first),
      base: median(base.first),
      ratio: median(ours.first) / median(base.first),
      unit: `+${added.toFixed(1)} ms`,
    });

    section('key proxy: one small request through the proxy vs straight to the upstream');
    const proxy = await startKeyProxy({ upstream: model.url, apiKey: 'sk-bench' });
    const token = proxy.issue(60_000);
    const req = (url: string) => fetch(`${url}/v1/unknown`, { headers: { 'x-api-key': token } }).then((r) => r.arrayBuffer());
    const m = await compare(
      'request via proxy',
      'direct to upstream',
      () => req(proxy.url),
      () => req(model.url),
      { iterations: 300 },
    );
    console.log(`  added latency per request: ${(m.ours - m.base).toFixed(3)} ms`);
    out.push(m);
    await proxy.close();
  } finally {
    await backend.close();
    await model.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  return out;
}
