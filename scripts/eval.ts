/**
 * `npm run eval`: how good is the game-making agent? A fixed set of game requests in English and Japanese, each run end
 * to end through the server's job path (WebSocket `message` → agent turn with skills and tools → game check → repair
 * turn when needed → commit), printing per request the check result, turns, repair turns, images, tokens, cost and
 * time. It is how a change to the standing instructions or the skills is judged.
 *
 * Without ANTHROPIC_API_KEY it runs in demo mode (the built-in scripted model, as `npm start` does); with one, the real
 * model (ANTHROPIC_MODEL, ANTHROPIC_BASE_URL honoured). Images come from Gemini with GEMINI_API_KEY, else from the
 * built-in demo generator. Exit code 1 when any request's game did not pass its check.
 *
 *   npm run eval                       # every request
 *   npm run eval -- --only 2,5         # some of them (1-based)
 */
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from '../server/src/main.js';
import { Client, signUp } from '../server/test/support/harness.js';

export const EVAL_REQUESTS: { lang: 'en' | 'ja'; prompt: string }[] = [
  { lang: 'en', prompt: 'Make a space shooter where I dodge asteroids and shoot aliens' },
  { lang: 'ja', prompt: 'ジャンプして障害物をよけるランゲームを作って' },
  { lang: 'en', prompt: 'A snake game with neon colors' },
  { lang: 'ja', prompt: 'ブロック崩しを作ってください' },
  { lang: 'en', prompt: 'A game where I catch falling stars and avoid bombs' },
  { lang: 'ja', prompt: '宇宙でエイリアンを撃つシューティングゲームを作って' },
];

interface Row {
  n: number;
  lang: string;
  request: string;
  status: string;
  check: string;
  turns: number;
  repairs: number;
  images: number;
  tokens: number;
  costUsd: number;
  seconds: number;
  name: string;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  const only = values.only ? new Set(values.only.split(',').map(Number)) : null;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'dreamcore-eval-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.EVAL_LOG_LEVEL ?? 'silent',
    DAILY_PROJECT_LIMIT: '-1',
    DAILY_MESSAGE_LIMIT: '-1',
    AI_RATE_LIMIT_PER_MIN: '1000',
    WS_AI_MESSAGES_PER_MIN: '1000',
    PGLITE_TEMPLATE_DIR: path.join(tmpdir(), 'dreamcore-pglite-templates'),
  };
  const server = await startServer(env);
  const mode = server.ctx.config.demoMode ? 'demo mode (the built-in scripted model)' : `model ${server.ctx.config.ANTHROPIC_MODEL ?? 'sonnet'}`;
  console.log(`DreamCore eval: ${mode}, backend ${server.ctx.backend.name}, game check ${server.ctx.config.GAME_CHECK ? 'on' : 'off'}`);
  const rows: Row[] = [];
  try {
    const user = await signUp(server.url);
    const client = await Client.init(server.url, user.accessToken);
    for (const [i, request] of EVAL_REQUESTS.entries()) {
      if (only && !only.has(i + 1)) continue;
      const started = Date.now();
      client.send({ type: 'createProject' });
      const projectId = (await client.next((m) => m.type === 'projectCreated')).project.id as string;
      client.send({ type: 'selectProject', projectId });
      await client.next((m) => m.type === 'projectSelected' && m.projectId === projectId);
      client.send({ type: 'message', content: request.prompt });
      const jobId = (await client.next((m) => m.type === 'jobStarted')).job.id as string;
      const end = await client.next((m) => m.jobId === jobId && ['completed', 'failed', 'cancelled'].includes(m.type), 20 * 60_000);
      const renamed = client.messages.find((m) => m.jobId === jobId && m.type === 'projectRenamed');
      const job = end.job as {
        cost: { usd: number | null; input_tokens: number | null; output_tokens: number | null };
        repair_turns: number;
        images_generated: number;
      };
      const check = end.result?.gameCheck as { passed: boolean; errors: string[] } | null | undefined;
      rows.push({
        n: i + 1,
        lang: request.lang,
        request: request.prompt,
        status: end.type,
        check: check ? (check.passed ? 'passed' : `FAILED: ${check.errors[0] ?? 'no reaction to input'}`) : end.type === 'completed' ? 'not run' : '-',
        turns: Number(end.result?.turns ?? 0),
        repairs: job.repair_turns ?? 0,
        images: job.images_generated ?? 0,
        tokens: (job.cost.input_tokens ?? 0) + (job.cost.output_tokens ?? 0),
        costUsd: job.cost.usd ?? 0,
        seconds: (Date.now() - started) / 1000,
        name: renamed?.project?.name ?? '',
      });
      const row = rows.at(-1)!;
      console.log(
        `  ${row.n}. ${row.status === 'completed' ? row.check : `${row.status}: ${String(end.userMessage ?? end.error ?? '')}`} (${row.seconds.toFixed(1)} s)`,
      );
    }
    client.close();
  } finally {
    await server.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  printTable(rows);
  const passed = rows.filter((r) => r.check === 'passed').length;
  console.log(`\n${passed}/${rows.length} games passed the check`);
  return passed === rows.length ? 0 : 1;
}

function printTable(rows: Row[]): void {
  const header = ['#', 'lang', 'request', 'check', 'turns', 'repairs', 'images', 'tokens', 'cost $', 'time s', 'named'];
  const body = rows.map((r) => [
    String(r.n),
    r.lang,
    r.request.length > 34 ? `${r.request.slice(0, 33)}…` : r.request,
    r.check.length > 40 ? `${r.check.slice(0, 39)}…` : r.check,
    String(r.turns),
    String(r.repairs),
    String(r.images),
    String(r.tokens),
    r.costUsd.toFixed(4),
    r.seconds.toFixed(1),
    r.name,
  ]);
  // East Asian characters take two columns in a terminal.
  const width = (s: string) =>
    [...s].reduce((w, c) => w + (/[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(c) ? 2 : 1), 0);
  const widths = header.map((h, i) => Math.max(width(h), ...body.map((row) => width(row[i]!))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c + ' '.repeat(widths[i]! - width(c)))
      .join('  ')
      .trimEnd();
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const row of body) console.log(line(row));
}

process.exitCode = await main();
