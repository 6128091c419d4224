/**
 * Issue 15 figures: several instances on one PostgreSQL 15 (`scripts/cluster.ts`). 150 concurrent jobs spread over
 * the instances by the round-robin proxy; each job's stream is watched by a second socket on a random instance, so
 * most watchers are on an instance the job does not run on (events reach them through the database: written, then
 * NOTIFY, then read by seq). Reported: token → watcher socket p50/p99, events lost and duplicated (every watcher must
 * see seq 1…end once), with three instances and, beside it, one instance on the same database.
 *
 * The agent is bench/fake-claude.mjs (CLAUDE_PATH): 100 deltas 20 ms apart, stamped with the time they were written.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startCluster } from '../scripts/cluster.js';
import { Client, signUp } from '../server/test/support/harness.js';
import { section, type Measurement } from './lib.js';

/** 150 by default (the figure); BENCH_CLUSTER_JOBS for a smaller run on a busy machine. */
const JOBS = Number(process.env.BENCH_CLUSTER_JOBS) || 150;
const TOKENS = 100;
const here = path.dirname(fileURLToPath(import.meta.url));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

interface Result {
  p50: number;
  p99: number;
  samples: number;
  lost: number;
  duplicated: number;
  remoteShare: number;
}

/** Ten at a time: set-up is not what is measured. */
async function inBatches<T, R>(items: T[], fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 10) out.push(...(await Promise.all(items.slice(i, i + 10).map((item, j) => fn(item, i + j)))));
  return out;
}

async function run(instances: number): Promise<Result> {
  const cluster = await startCluster(instances, {
    ANTHROPIC_API_KEY: 'sk-bench',
    ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
    GEMINI_API_KEY: 'x',
    GEMINI_BASE_URL: 'http://127.0.0.1:9',
    CLAUDE_PATH: path.join(here, 'fake-claude.mjs'),
    AGENT_ISOLATION: 'none',
    AGENT_NICENESS: '0',
    GAME_CHECK: 'false',
    MAX_JOBS_TOTAL: String(JOBS + 10),
    DAILY_PROJECT_LIMIT: '-1',
    DAILY_MESSAGE_LIMIT: '-1',
    RATE_LIMIT_PER_MIN: '100000',
    WS_MESSAGES_PER_MIN: '100000',
    WS_AI_MESSAGES_PER_MIN: '100000',
    DATABASE_POOL_SIZE: '20',
    LOG_LEVEL: 'error',
  });
  const latencies: number[] = [];
  let lost = 0;
  let duplicated = 0;
  let remote: number;
  try {
    const pickInstance = () => cluster.instances[Math.floor(Math.random() * cluster.instances.length)]!;
    const users = await inBatches(Array.from({ length: JOBS }), () => signUp(cluster.url));
    const starters = await inBatches(users, async (user) => {
      const client = await Client.init(cluster.url, user.accessToken);
      client.send({ type: 'createProject', name: 'bench' });
      const projectId = (await client.next((m) => m.type === 'projectCreated', 120_000)).project.id as string;
      client.send({ type: 'selectProject', projectId });
      await client.next((m) => m.type === 'projectSelected', 120_000);
      return client;
    });
    const watchers = await inBatches(users, async (user) => {
      const instance = pickInstance();
      return { client: await Client.init(instance.url, user.accessToken), instance: instance.name };
    });
    // Every fake agent starts streaming at the same moment, once every job is running.
    const startAt = Date.now() + 5000 + JOBS * 60;
    const jobIds: string[] = [];
    await Promise.all(
      starters.map(async (starter, i) => {
        starter.send({ type: 'message', content: `stream please start@${startAt}`, skipStyleSelection: true });
        const started = await starter.next((m) => m.type === 'jobStarted', 120_000);
        const jobId = started.job.id as string;
        const { client: watcher } = watchers[i]!;
        const seqs: number[] = [];
        watcher.ws.on('message', (data) => {
          const at = performance.timeOrigin + performance.now();
          const m = JSON.parse(String(data)) as { type: string; jobId?: string; seq?: number; content?: string };
          if (m.jobId !== jobId || typeof m.seq !== 'number') return;
          seqs.push(m.seq);
          if (m.type === 'stream' && m.content) for (const match of m.content.matchAll(/⟨\d+@([\d.]+)⟩/g)) latencies.push(at - Number(match[1]));
        });
        watcher.send({ type: 'subscribeJob', jobId, lastSeq: 0 });
        const end = await watcher.next((m) => m.jobId === jobId && ['completed', 'failed'].includes(m.type), 300_000);
        const unique = new Set(seqs);
        duplicated += seqs.length - unique.size;
        for (let seq = 1; seq <= end.seq; seq++) if (!unique.has(seq)) lost++;
        if (end.type !== 'completed') lost += TOKENS; // a failed fake job is a broken run, not a latency sample
        jobIds[i] = jobId;
      }),
    );
    // Which watchers were on another instance than their job: the lease owner is `instance-<name>-…`.
    const sql = new pg.Client({ connectionString: cluster.postgres.connectionString });
    await sql.connect();
    const { rows } = await sql.query<{ id: string; lease_owner: string }>('select id, lease_owner from public.jobs where id = any($1::uuid[])', [jobIds]);
    await sql.end();
    const ownerOf = new Map(rows.map((r) => [r.id, r.lease_owner.split('-')[1]]));
    remote = watchers.filter((w, i) => ownerOf.get(jobIds[i]!) !== w.instance).length;
    [...starters, ...watchers.map((w) => w.client)].forEach((c) => c.close());
  } finally {
    await cluster.stop();
  }
  return { p50: pct(latencies, 50), p99: pct(latencies, 99), samples: latencies.length, lost, duplicated, remoteShare: remote / JOBS };
}

export async function benchCluster(): Promise<Measurement[]> {
  section(`cluster: ${JOBS} concurrent fake jobs over the round-robin proxy, each watched by a socket on a random instance (PostgreSQL 15)`);
  const one = await run(1);
  console.log(
    `  1 instance:   token → watcher p50 ${one.p50.toFixed(1)} ms, p99 ${one.p99.toFixed(1)} ms (${one.samples} samples); lost ${one.lost}, duplicated ${one.duplicated}`,
  );
  const three = await run(3);
  console.log(
    `  3 instances:  token → watcher p50 ${three.p50.toFixed(1)} ms, p99 ${three.p99.toFixed(1)} ms (${three.samples} samples, ${Math.round(three.remoteShare * 100)}% of watchers on another instance than their job); lost ${three.lost}, duplicated ${three.duplicated}`,
  );
  const met = three.p99 <= 25 && three.lost === 0 && three.duplicated === 0;
  console.log(`  goal: 3 instances p99 ≤ 25 ms, 0 lost, 0 duplicated: ${met ? 'met' : 'NOT met'}`);
  return [
    { name: 'token → socket p99, 3 instances', baseline: '1 instance, same database', ours: three.p99, base: one.p99, ratio: three.p99 / one.p99, goal: 25 },
    { name: 'token → socket p50, 3 instances', baseline: '1 instance, same database', ours: three.p50, base: one.p50, ratio: three.p50 / one.p50 },
    {
      name: 'events lost + duplicated, 3 instances',
      baseline: '1 instance',
      ours: three.lost + three.duplicated,
      base: one.lost + one.duplicated,
      ratio: 0,
      goal: 0,
    },
  ];
}
