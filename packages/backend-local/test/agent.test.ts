/**
 * Local-only agent behaviour the conformance suite cannot see from outside: the process tree after cancel,
 * what the confined agent can reach on this machine, skills, the unconfined fallback, a missing CLI.
 */
import { mkdtempSync, promises as fs, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModelServer, type ModelServer } from '@dreamcore/runtime-core/testkit';
import { expectCode } from '@dreamcore/runtime-core/conformance';
import type { AgentEvent } from '@dreamcore/runtime-core';
import { createLocalBackend, scopeRoot, type LocalBackend } from '../src/index.js';

let model: ModelServer;
let dataDir: string;
let backend: LocalBackend;
const apiKey = `sk-ant-local-${randomUUID()}`;

beforeAll(async () => {
  model = await startModelServer();
  dataDir = mkdtempSync(path.join(tmpdir(), 'agent-local-'));
  await fs.mkdir(path.join(dataDir, 'skills', 'platformer'), { recursive: true });
  await fs.writeFile(
    path.join(dataDir, 'skills', 'platformer', 'SKILL.md'),
    '---\nname: platformer\ndescription: How to build a jumping platformer game on a canvas.\n---\nUse gravity 0.5.\n',
  );
  backend = createLocalBackend({
    dataDir,
    agent: { anthropicApiKey: apiKey, anthropicBaseUrl: model.url, maxRetries: 0, isolation: 'bubblewrap', skillsDir: path.join(dataDir, 'skills') },
  });
});

afterAll(async () => {
  await backend?.close();
  await model?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

async function newProject() {
  const scope = { userId: randomUUID(), projectId: randomUUID() };
  await backend.files.write(scope, 'README.md', 'project');
  return scope;
}

async function events(run: AsyncIterable<AgentEvent>): Promise<AgentEvent[]> {
  const out: AgentEvent[] = [];
  for await (const e of run) out.push(e);
  return out;
}

/** Pids whose working directory is inside `dir` (the agent and anything it started). */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) pids.push(Number(entry));
    } catch {
      /* exited, or not ours to read */
    }
  }
  return pids;
}

/** Pids whose command line names `text` (bubblewrap's argv names the project folder it binds). */
function processesNaming(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      /* exited */
    }
  }
  return pids;
}

describe('local agent', () => {
  it('runs confined with bubblewrap here', async () => {
    expect((await backend.agentIsolation()).kind).toBe('bubblewrap');
  });

  it('cancel leaves no process of the run behind (a Bash child included)', async () => {
    const scope = await newProject();
    const dir = scopeRoot(dataDir, scope);
    model.setScript([{ text: 'sleeping', toolUses: [{ name: 'Bash', input: { command: 'sleep 300 & sleep 300; echo never', description: 'sleep' } }] }]);
    const controller = new AbortController();
    const run = backend.runClaude({ scope, prompt: 'sleep', signal: controller.signal });
    const seen: AgentEvent[] = [];
    const done = (async () => {
      for await (const e of run) {
        seen.push(e);
        if (e.type === 'tool_use') setTimeout(() => controller.abort(), 500);
      }
    })();
    await expect.poll(() => processesIn(dir).length, { timeout: 20_000 }).toBeGreaterThan(0);
    await done;
    expect(seen.at(-1)).toMatchObject({ type: 'error', error: { code: 'CANCELLED' } });
    await expect.poll(() => processesIn(dir), { timeout: 2_000, interval: 100 }).toEqual([]);
  }, 60_000);

  it('a cancel at any moment of start-up ends the run CANCELLED and leaves no process behind', async () => {
    model.setScript([{ text: 'thinking…', fault: { hang: true } }]);
    // Before the call, during set-up, while bubblewrap builds the sandbox, while the CLI starts: each a different path.
    for (const delayMs of [-1, 0, 5, 20, 60, 150, 400, 1000]) {
      const scope = await newProject();
      const dir = scopeRoot(dataDir, scope);
      const controller = new AbortController();
      if (delayMs < 0) controller.abort();
      const started = Date.now();
      const run = backend.runClaude({ scope, prompt: 'hang', signal: controller.signal });
      if (delayMs >= 0) setTimeout(() => controller.abort(), delayMs);
      const seen = await events(run);
      expect(seen.at(-1), `cancel after ${delayMs} ms`).toMatchObject({ type: 'error', error: { code: 'CANCELLED' } });
      expect(Date.now() - started, `cancel after ${delayMs} ms took too long`).toBeLessThan(5_000);
      await expect.poll(() => [...processesIn(dir), ...processesNaming(scope.projectId)], { timeout: 2_000, interval: 100 }).toEqual([]);
    }
  }, 90_000);

  it('the confined agent cannot see the data directory, the checkout or the host', async () => {
    const scope = await newProject();
    model.setScript((_req, ctx) =>
      ctx.turnIndex === 0
        ? {
            text: 'looking',
            toolUses: [
              {
                name: 'Bash',
                input: {
                  command: `ls ${dataDir} 2>&1; cat ${path.resolve('package.json')} 2>&1; ls /root /work 2>&1; id -u; pwd; ls -a /`,
                  description: 'look',
                },
              },
            ],
          }
        : { text: 'done' },
    );
    const out = await events(backend.runClaude({ scope, prompt: 'look' }));
    const result = out.find((e) => e.type === 'tool_result') as Extract<AgentEvent, { type: 'tool_result' }>;
    expect(result.content).toContain(`ls: cannot access '${dataDir}': No such file or directory`);
    expect(result.content).toContain('No such file or directory');
    expect(result.content).not.toContain('"workspaces"');
    expect(result.content).toMatch(/\b1000\b/);
    expect(result.content).toContain('/workspace');
  }, 60_000);

  it('the repository is read-only to the agent', async () => {
    const scope = await newProject();
    await backend.git.init(scope);
    model.setScript((_req, ctx) =>
      ctx.turnIndex === 0
        ? {
            text: 'x',
            toolUses: [
              {
                name: 'Bash',
                input: { command: 'echo "#!/bin/sh" > .git/hooks/pre-commit 2>&1; echo "[core]" >> .git/config 2>&1; echo done', description: 'x' },
              },
            ],
          }
        : { text: 'done' },
    );
    const out = await events(backend.runClaude({ scope, prompt: 'tamper' }));
    const result = out.find((e) => e.type === 'tool_result') as Extract<AgentEvent, { type: 'tool_result' }>;
    expect(result.content).toMatch(/Read-only file system/);
    expect((await backend.git.verify(scope)).ok).toBe(true);
  }, 60_000);

  it('installed skills are visible to the agent and listed to the model', async () => {
    const scope = await newProject();
    model.setScript((_req, ctx) =>
      ctx.turnIndex === 0
        ? { text: 'x', toolUses: [{ name: 'Bash', input: { command: 'cat ~/.claude/skills/platformer/SKILL.md', description: 'x' } }] }
        : { text: 'done' },
    );
    model.requests.length = 0;
    const out = await events(backend.runClaude({ scope, prompt: 'use skills' }));
    const result = out.find((e) => e.type === 'tool_result') as Extract<AgentEvent, { type: 'tool_result' }>;
    expect(result.content).toContain('Use gravity 0.5.');
    expect(JSON.stringify(model.messageRequests[0]!.body)).toContain('How to build a jumping platformer game');
    await expectCode(backend.runClaude({ scope, prompt: 'x', skills: ['not-installed'] }).result, 'NOT_FOUND');
  }, 60_000);

  it('a missing CLI is a clear CLI_SPAWN_ERROR', async () => {
    const broken = createLocalBackend({ dataDir, agent: { anthropicBaseUrl: model.url, claudePath: '/nonexistent/claude' } });
    const scope = await newProject();
    const error = await expectCode(broken.runClaude({ scope, prompt: 'x' }).result, 'CLI_SPAWN_ERROR');
    expect(error.message).toContain('/nonexistent/claude');
    await broken.close();
  });

  it('without a key or a model URL, runs fail NOT_CONFIGURED', async () => {
    const unconfigured = createLocalBackend({ dataDir });
    await expectCode(unconfigured.runClaude({ scope: await newProject(), prompt: 'x' }).result, 'NOT_CONFIGURED');
    await unconfigured.close();
  });

  it('unconfined fallback still works, and says it is unconfined', async () => {
    const notes: string[] = [];
    const open = createLocalBackend({
      dataDir,
      agent: { anthropicBaseUrl: model.url, isolation: 'none', onIsolation: (i) => notes.push(i.kind) },
    });
    const scope = await newProject();
    model.setScript([{ text: 'writing', toolUses: [{ name: 'Write', input: { file_path: 'index.html', content: 'hi' } }] }, { text: 'ok' }]);
    const result = await open.runClaude({ scope, prompt: 'write' }).result;
    expect(result.filesChanged).toEqual(['index.html']);
    expect(await open.files.readText(scope, 'index.html')).toBe('hi');
    expect(notes).toEqual(['none']);
    await open.close();
  }, 60_000);
});
