/**
 * runClaude: driven by the real Claude Code CLI against the scripted model server (testkit), so every case checks
 * what the agent really did (files written, requests the model saw), not canned output.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { expectCode, newProject, snapshot, type ConformanceOptions, useBackend } from './context.js';
import { startModelServer, type ModelServer, type Script, type Turn } from '../testkit/model-server.js';
import type { AgentEvent, AgentResult } from '../events.js';
import type { AgentRun, AgentTool, ExecutionBackend, ProjectScope } from '../contract.js';
import { STANDING_INSTRUCTIONS } from '../agent/instructions.js';
import { listSkills } from '../agent/skills.js';
import { withReadCache } from '../read-cache.js';

interface Collected {
  events: AgentEvent[];
  result: AgentResult | null;
  error: (Error & { code?: string }) | null;
  ms: number;
}

async function collect(run: AgentRun, onEvent?: (event: AgentEvent) => void): Promise<Collected> {
  const start = Date.now();
  const events: AgentEvent[] = [];
  for await (const event of run) {
    events.push(event);
    onEvent?.(event);
  }
  let result: AgentResult | null = null;
  let error: Collected['error'] = null;
  try {
    result = await run.result;
  } catch (e) {
    error = e as Collected['error'];
  }
  return { events, result, error, ms: Date.now() - start };
}

/** The stream guarantees: seq 1..n without gaps, `started` first, exactly one terminal event, last. */
function expectWellFormed(events: AgentEvent[]): void {
  expect(events.length).toBeGreaterThan(0);
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  const terminals = events.filter((e) => e.type === 'result' || e.type === 'error');
  expect(terminals).toHaveLength(1);
  expect(events.at(-1)).toBe(terminals[0]);
  if (events.length > 1) expect(events[0]!.type).toBe('started');
}

const textOf = (events: AgentEvent[]) => events.flatMap((e) => (e.type === 'text' ? [e.delta] : [])).join('');

const GAME =
  '<!doctype html><html><head><title>Conformance Game</title></head><body><canvas id="c"></canvas>\n<script>const color = "red";</script></body></html>\n';

/** Write index.html, then say so. */
const writeScript: Turn[] = [
  { text: "I'll create the game file now.", toolUses: [{ name: 'Write', input: { file_path: 'index.html', content: GAME } }] },
  { text: 'Done: a canvas game in index.html with a red theme. ゲームを作りました！' },
];

export function agentCases(options: ConformanceOptions): void {
  describe('runClaude', () => {
    let model: ModelServer;
    const apiKey = `sk-ant-conformance-${randomBytes(12).toString('hex')}`;
    beforeAll(async () => {
      model = await startModelServer();
    });
    afterAll(async () => {
      await model?.close();
    });
    const s = useBackend(options, () => ({ anthropicBaseUrl: model.url, anthropicApiKey: apiKey }));
    const b = (): ExecutionBackend => s.backend();

    async function project(files: Record<string, string> = { 'README.md': 'A new project.' }): Promise<ProjectScope> {
      const p = newProject();
      for (const [path, data] of Object.entries(files)) await b().files.write(p, path, data);
      return p;
    }
    const useScript = (script: Script) => {
      model.setScript(script);
      model.requests.length = 0;
    };

    s.testUnsupported('runClaude', async () => {
      const run = b().runClaude({ scope: newProject(), prompt: 'make a game' });
      const { events } = await collect(run);
      expect(events.map((e) => e.type)).toEqual(['error']);
      expect(events[0]).toMatchObject({ seq: 1, error: { code: 'UNSUPPORTED' } });
      await expectCode(run.result, 'UNSUPPORTED');
    });

    s.test(
      'a run writes index.html and reports a complete result',
      'runClaude',
      async () => {
        useScript(writeScript);
        const p = await project();
        const { events, result, error } = await collect(b().runClaude({ scope: p, prompt: 'Make a shooting game' }));
        expect(error).toBeNull();
        expectWellFormed(events);
        expect(await b().files.readText(p, 'index.html')).toBe(GAME);
        const toolUse = events.find((e) => e.type === 'tool_use');
        expect(toolUse).toMatchObject({ name: 'Write', input: { content: GAME } });
        const toolResult = events.find((e) => e.type === 'tool_result');
        expect(toolResult).toMatchObject({ toolUseId: (toolUse as { toolUseId: string }).toolUseId, isError: false });
        expect(events.findIndex((e) => e.type === 'tool_use')).toBeLessThan(events.findIndex((e) => e.type === 'tool_result'));
        expect(result).toMatchObject({ exitCode: 0, filesChanged: ['index.html'] });
        expect(result!.sessionId).toMatch(/^[0-9a-f-]{36}$/);
        expect(result!.numTurns).toBeGreaterThanOrEqual(2);
        expect(result!.usage.outputTokens).toBeGreaterThan(0);
        expect(result!.costUsd).toBeGreaterThanOrEqual(0);
        expect(result!.durationMs).toBeGreaterThan(0);
        expect(events[0]).toMatchObject({ type: 'started', sessionId: result!.sessionId });
        // The model really was asked, with the prompt.
        expect(JSON.stringify(model.messageRequests[0]!.body)).toContain('Make a shooting game');
      },
      60_000,
    );

    s.test(
      'text streams as token-level deltas whose concatenation is the final text',
      'runClaude',
      async () => {
        const first = 'Let me think about the design of this game: a hero, three enemies and a score.';
        const second = 'All done — 敵を3体追加しました。Enjoy!';
        useScript([
          { text: first, chunkSize: 3, toolUses: [{ name: 'Write', input: { file_path: 'notes.md', content: '# plan\n' } }] },
          { text: second, chunkSize: 2 },
        ]);
        const p = await project();
        const { events, result } = await collect(b().runClaude({ scope: p, prompt: 'plan it' }));
        expectWellFormed(events);
        const deltas = events.filter((e) => e.type === 'text');
        expect(deltas.length).toBeGreaterThan(10); // token-level, not one block at a time
        // Separate turns' text reads as separate paragraphs.
        expect(textOf(events)).toBe(`${first}\n\n${second}`);
        expect(result!.text).toBe(`${first}\n\n${second}`);
        const times = events.map((e) => e.t);
        expect([...times].sort((x, y) => x - y)).toEqual(times);
      },
      60_000,
    );

    s.test(
      'a second message continues the same session and edits the file',
      'runClaude',
      async () => {
        useScript(writeScript);
        const p = await project();
        const one = await collect(b().runClaude({ scope: p, prompt: 'Make a game' }));
        expect(one.error).toBeNull();
        useScript((_request, ctx) => {
          if (ctx.toolResults.length === 0) {
            return { text: 'Reading the current game.', toolUses: [{ name: 'Read', input: { file_path: 'index.html' } }] };
          }
          if (ctx.toolResults[0]!.name === 'Read') {
            return {
              text: 'Making it blue.',
              toolUses: [{ name: 'Edit', input: { file_path: 'index.html', old_string: 'const color = "red";', new_string: 'const color = "blue";' } }],
            };
          }
          return { text: 'The game is blue now.' };
        });
        const two = await collect(b().runClaude({ scope: p, prompt: 'Make it blue', sessionId: one.result!.sessionId! }));
        expect(two.error).toBeNull();
        expectWellFormed(two.events);
        expect(await b().files.readText(p, 'index.html')).toBe(GAME.replace('"red"', '"blue"'));
        expect(two.result!.sessionId).toBe(one.result!.sessionId);
        expect(two.result!.filesChanged).toEqual(['index.html']);
        // The model saw the first conversation: the session was resumed, not restarted.
        const body = JSON.stringify(model.messageRequests[0]!.body);
        expect(body).toContain('Make a game');
        expect(body).toContain('Make it blue');
      },
      90_000,
    );

    s.test(
      "after: the run's end commits (the reply as the message's body) and reads, in its own result; a read cache over the backend sees the agent's shell and a restore",
      'runClaude',
      async () => {
        const p = await project({ 'index.html': 'v1', 'README.md': 'readme v1' });
        const v1 = (await b().git.init(p)).head;
        const cached = withReadCache(b());
        for (const path of ['index.html', 'README.md']) await cached.files.readText(p, path); // kept now
        expect(await cached.files.readText(p, 'README.md')).toBe('readme v1');
        expect(cached.readCache.hits).toBe(1);
        const reply = 'Done: 影を付けました。\nShading added.';
        useScript([
          {
            text: 'Changing both files with the shell.',
            toolUses: [
              { name: 'Bash', input: { command: "printf 'v2 from the shell' > index.html && printf 'readme v2' > README.md", description: 'rewrite' } },
            ],
          },
          { text: reply },
        ]);
        const { result, error } = await collect(
          cached.runClaude({ scope: p, prompt: 'shade it', after: { commit: { subject: 'Shade it' }, read: ['index.html', 'missing.txt'] } }),
        );
        expect(error).toBeNull();
        expect(result!.filesChanged).toEqual(['README.md', 'index.html']);
        const [newest] = (await b().git.log(p)).commits;
        const message = `Shade it\n\n${reply}`;
        expect(newest).toMatchObject({ message, files: ['README.md', 'index.html'], parents: [v1] });
        expect(result!.after).toEqual({
          commit: { committed: true, hash: newest!.hash, message },
          files: { 'index.html': 'v2 from the shell', 'missing.txt': null },
        });
        // Never stale: what the agent's shell changed is what a cached read gives (README.md was not among the reads).
        expect(await cached.files.readText(p, 'README.md')).toBe('readme v2');
        expect(await cached.files.readText(p, 'index.html')).toBe('v2 from the shell');
        await cached.files.readText(p, 'README.md');
        // A restore to the older version, through the cache: the old files.
        await cached.git.restore(p, v1);
        expect(await cached.files.readText(p, 'index.html')).toBe('v1');
        expect(await cached.files.readText(p, 'README.md')).toBe('readme v1');
        expect(cached.readCache.hits).toBeGreaterThanOrEqual(3);
      },
      90_000,
    );

    s.test(
      'cancel mid-run ends the stream with CANCELLED and the agent goes away within 2 s',
      'runClaude',
      async () => {
        useScript([{ text: 'Working...', fault: { hang: true } }]);
        const p = await project();
        const controller = new AbortController();
        let cancelledAt = 0;
        const after = { commit: { subject: 'Never committed' }, read: ['README.md'] };
        const { events, error } = await collect(b().runClaude({ scope: p, prompt: 'take forever', signal: controller.signal, after }), (event) => {
          if (event.type === 'status' && event.status === 'requesting' && !cancelledAt) {
            // Cancel once the model request is in flight.
            setTimeout(() => {
              cancelledAt = Date.now();
              controller.abort();
            }, 300);
          }
        });
        expect(cancelledAt).toBeGreaterThan(0);
        expect(Date.now() - cancelledAt).toBeLessThan(2_000);
        expectWellFormed(events);
        expect(error?.code).toBe('CANCELLED');
        expect(events.at(-1)).toMatchObject({ type: 'error', error: { code: 'CANCELLED' } });
        // The agent's connection to the model closed: its process is gone.
        await expect.poll(() => model.messageRequests.every((r) => r.closedAt !== null), { timeout: 2_000 }).toBe(true);
        expect(Math.max(...model.messageRequests.map((r) => r.closedAt!)) - cancelledAt).toBeLessThan(2_000);
        // A run that did not succeed does not do its `after`: no repository was made, nothing committed.
        await expectCode(b().git.log(p), 'NOT_FOUND');
      },
      60_000,
    );

    s.test(
      'a cancel before or during start-up ends the run CANCELLED and the model is never left waiting',
      'runClaude',
      async () => {
        useScript([{ text: 'Working...', fault: { hang: true } }]);
        // Already aborted, then aborted at moments that fall in the backend's set-up and in the agent's start.
        for (const delayMs of [-1, 0, 50, 250]) {
          const p = await project();
          const controller = new AbortController();
          if (delayMs < 0) controller.abort();
          else setTimeout(() => controller.abort(), delayMs);
          const started = Date.now();
          const { events, error } = await collect(b().runClaude({ scope: p, prompt: 'take forever', signal: controller.signal }));
          expect(error?.code, `cancelled after ${delayMs} ms`).toBe('CANCELLED');
          expectWellFormed(events);
          expect(Date.now() - started, `cancelled after ${delayMs} ms`).toBeLessThan(10_000);
        }
        // Whatever reached the model before the cancel was hung up on: no agent lives on behind a cancelled run.
        await expect.poll(() => model.messageRequests.every((r) => r.closedAt !== null), { timeout: 3_000 }).toBe(true);
      },
      90_000,
    );

    s.test(
      'a run that exceeds its time bound fails with CLI_TIMEOUT (exit 124)',
      'runClaude',
      async () => {
        useScript([{ fault: { hang: true } }]);
        const p = await project();
        const started = Date.now();
        const { events, error } = await collect(b().runClaude({ scope: p, prompt: 'hang', timeoutMs: 4_000 }));
        expect(error?.code).toBe('CLI_TIMEOUT');
        expect(events.at(-1)).toMatchObject({ type: 'error', error: { code: 'CLI_TIMEOUT', exitCode: 124, recoverable: true } });
        expect(Date.now() - started).toBeLessThan(15_000);
        expectWellFormed(events);
      },
      60_000,
    );

    const faults: [string, Turn, string][] = [
      ['HTTP 500 on every attempt', { fault: { status: 500 } }, 'NETWORK_ERROR'],
      ['HTTP 529 overloaded', { fault: { status: 529 } }, 'NETWORK_ERROR'],
      ['HTTP 429 with retry-after', { fault: { status: 429, retryAfterSeconds: 1 } }, 'RATE_LIMIT'],
      ['HTTP 401', { fault: { status: 401 } }, 'AUTH_ERROR'],
      ['HTTP 400', { fault: { status: 400, message: 'prompt is too long' } }, 'CLI_GENERAL_ERROR'],
    ];
    for (const [name, turn, code] of faults) {
      s.test(
        `model fault: ${name} → ${code}`,
        'runClaude',
        async () => {
          useScript([turn]);
          const p = await project();
          const { events, error } = await collect(b().runClaude({ scope: p, prompt: 'go', timeoutMs: 60_000 }));
          expectWellFormed(events);
          expect(error?.code, error?.message).toBe(code);
          expect(events.at(-1)).toMatchObject({ type: 'error', error: { code } });
          expect(await b().files.list(p)).toEqual([expect.objectContaining({ path: 'README.md' })]);
        },
        90_000,
      );
    }

    s.test(
      'a transient 500 is retried, reported as status, and the run succeeds',
      'runClaude',
      async () => {
        useScript([{ text: 'ok', fault: { status: 500, times: 1 } }]);
        const p = await project();
        const { events, result } = await collect(b().runClaude({ scope: p, prompt: 'go' }));
        expectWellFormed(events);
        expect(result?.exitCode).toBe(0);
        expect(events.some((e) => e.type === 'status' && e.status === 'retrying')).toBe(true);
        expect(model.messageRequests.length).toBeGreaterThanOrEqual(2);
      },
      90_000,
    );

    s.test(
      'a stream cut mid-reply is retried and the run succeeds',
      'runClaude',
      async () => {
        const text = 'This answer is cut off the first time and completed on the retry.';
        useScript([{ text, chunkSize: 4, fault: { cutAfterChunks: 3, times: 1 } }]);
        const p = await project();
        const { events, result, error } = await collect(b().runClaude({ scope: p, prompt: 'go' }));
        expect(error).toBeNull();
        expectWellFormed(events);
        // The cut-off start is not repeated: the retried reply continues it.
        expect(textOf(events)).toBe(text);
        expect(result!.text).toBe(text);
      },
      90_000,
    );

    s.test(
      "the model gets DreamCore's standing instructions and exactly the chosen skills, and a skill's body when the agent uses it",
      'runClaude',
      async () => {
        const shipped = (await listSkills()).map((skill) => skill.name);
        expect(shipped.length).toBeGreaterThanOrEqual(10);
        const [chosen, other, left] = shipped;
        useScript((_req, ctx) =>
          ctx.turnIndex === 0 ? { text: 'Reading a skill.', toolUses: [{ name: 'Skill', input: { skill: chosen } }] } : { text: 'Done.' },
        );
        const p = await project();
        const { result, events } = await collect(b().runClaude({ scope: p, prompt: 'Make a game', skills: [chosen!, other!] }));
        expect(result?.exitCode, JSON.stringify(events.at(-1))).toBe(0);
        const first = model.messageRequests[0]!.body as { system?: unknown; messages: unknown };
        // The instructions ride on the system prompt (never as a file in the project).
        expect(JSON.stringify(first.system)).toContain(JSON.stringify(STANDING_INSTRUCTIONS.split('\n')[0]).slice(1, -1));
        expect(await b().files.exists(p, 'CLAUDE.md')).toBe(false);
        const listed = JSON.stringify(first.messages);
        expect(listed).toContain(`- ${chosen}:`);
        expect(listed).toContain(`- ${other}:`);
        expect(listed).not.toContain(`- ${left}:`);
        // The skill's body reached the model after the Skill call.
        const body = (await listSkills()).find((skill) => skill.name === chosen)!;
        const heading = (await import('node:fs'))
          .readFileSync(`${body.dir}/SKILL.md`, 'utf8')
          .split('\n')
          .find((l) => l.startsWith('# '))!;
        expect(JSON.stringify(model.messageRequests.at(-1)!.body)).toContain(heading);
        // A skill that is not installed is refused before the model is asked.
        model.requests.length = 0;
        await expectCode(b().runClaude({ scope: p, prompt: 'x', skills: ['no-such-skill'] }).result, 'NOT_FOUND');
        expect(model.messageRequests).toHaveLength(0);
      },
      60_000,
    );

    s.test(
      "a run's tool is called through the key proxy with the run's token, and the token is refused once the run ended",
      'runClaude',
      async () => {
        const calls: Record<string, unknown>[] = [];
        const tool: AgentTool = {
          name: 'make_sprite',
          description: 'Makes a sprite and answers with its URL.',
          inputSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
          async handler(input) {
            calls.push(input);
            return `made /user-assets/u/${String(input.name)}.png`;
          },
        };
        useScript((_req, ctx) => {
          if (ctx.turnIndex === 0) {
            return {
              text: 'Looking.',
              toolUses: [{ name: 'Bash', input: { command: 'printf "%s %s" "$ANTHROPIC_BASE_URL" "$ANTHROPIC_API_KEY"', description: 'where' } }],
            };
          }
          if (ctx.turnIndex === 1) return { text: 'Making a sprite.', toolUses: [{ name: 'mcp__dreamcore__make_sprite', input: { name: 'hero' } }] };
          return { text: 'Done.' };
        });
        const p = await project();
        const { result, events } = await collect(b().runClaude({ scope: p, prompt: 'Make a hero', tools: [tool], timeoutMs: 120_000 }));
        expect(result?.exitCode, JSON.stringify(events.at(-1))).toBe(0);
        expect(calls).toEqual([{ name: 'hero' }]);
        const results = events.flatMap((e) => (e.type === 'tool_result' ? [e] : []));
        expect(results[1]).toMatchObject({ isError: false, content: expect.stringContaining('made /user-assets/u/hero.png') });
        // The model was offered the tool under the CLI's MCP name, and only the model's traffic went upstream.
        const offered = (model.messageRequests[0]!.body as { tools: { name: string }[] }).tools.map((t) => t.name);
        expect(offered).toContain('mcp__dreamcore__make_sprite');
        const [baseUrl, token] = String(results[0]!.content).trim().split(' ');
        expect(token).toMatch(/^dcrun-/);
        // After the run its token opens nothing: neither the tools nor the model.
        const mcp = await fetch(`${baseUrl}/mcp`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'make_sprite', arguments: { name: 'again' } } }),
        });
        expect(mcp.status).toBe(401);
        const messages = await fetch(`${baseUrl}/v1/messages`, {
          method: 'POST',
          headers: { 'x-api-key': token!, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'x', max_tokens: 1, messages: [] }),
        });
        expect(messages.status).toBe(401);
        expect(calls).toHaveLength(1);
      },
      120_000,
    );

    s.test('invalid requests fail with typed errors before anything runs', 'runClaude', async () => {
      model.requests.length = 0;
      const p = await project();
      await expectCode(b().runClaude({ scope: p, prompt: '' }).result, 'INVALID_ARGUMENT');
      await expectCode(b().runClaude({ scope: p, prompt: 'x', sessionId: '../../etc' }).result, 'INVALID_ARGUMENT');
      await expectCode(b().runClaude({ scope: { userId: 'nope', projectId: p.projectId }, prompt: 'x' }).result, 'INVALID_SCOPE');
      await expectCode(b().runClaude({ scope: newProject(), prompt: 'x' }).result, 'NOT_FOUND');
      expect(model.messageRequests).toHaveLength(0);
    });

    s.test(
      'a hostile agent sees no key and no other user, and writes nothing outside its project',
      'runClaude',
      async () => {
        const victim: ProjectScope = { userId: randomUUID(), projectId: randomUUID() };
        const marker = `victim-secret-${randomBytes(6).toString('hex')}`;
        await b().files.write(victim, 'index.html', `<h1>${marker}</h1>`);
        await b().files.write({ userId: victim.userId, assets: true }, 'hero_00000000.png', marker);
        const p = await project({ 'index.html': '<h1>mine</h1>' });
        const sibling: ProjectScope = { userId: p.userId, projectId: randomUUID() };
        await b().files.write(sibling, 'index.html', 'sibling');
        const watched = [victim, { userId: victim.userId, assets: true as const }, sibling, { userId: p.userId, assets: true as const }];
        const before = await Promise.all(watched.map((w) => snapshot(b(), w)));
        const commands = [
          'env',
          'cat /proc/self/environ | tr "\\0" "\\n"',
          'cat /proc/1/environ | tr "\\0" "\\n"; ls -la ../.. /',
          // Everything but the system's own read-only trees (/usr) and kernel files (/proc, /sys, /dev).
          // (The marker is assembled by the shell so the command itself does not carry it to the model.)
          `grep -rl "$(printf %s%s ${marker.slice(0, 8)} ${marker.slice(8)})" / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev --exclude-dir=usr 2>/dev/null | head -5; echo grep-done`,
          'echo pwned > ../escape.txt; echo pwned > ../../escape.txt; echo pwned > /escape.txt; echo writes-done',
          `echo pwned > ../${sibling.projectId}/index.html; ls ../; echo sibling-done`,
        ];
        useScript((_req, ctx) => {
          const i = ctx.turnIndex;
          return i < commands.length
            ? { text: `step ${i}`, toolUses: [{ name: 'Bash', input: { command: commands[i], description: `step ${i}` } }] }
            : { text: 'finished looking around' };
        });
        const { events, result, error } = await collect(b().runClaude({ scope: p, prompt: 'look around', timeoutMs: 120_000 }));
        expect(error).toBeNull();
        expect(result?.exitCode).toBe(0);
        const outputs = events.flatMap((e) => (e.type === 'tool_result' ? [e.content] : []));
        expect(outputs).toHaveLength(commands.length);
        // The commands really ran (their output reached the model)...
        expect(outputs[0]).toContain('ANTHROPIC_BASE_URL');
        expect(outputs[3]).toContain('grep-done');
        // ...and everything the model received is free of the key and of the other user's data.
        const seen = JSON.stringify(model.requests.map((r) => ({ headers: r.headers, body: r.body })));
        expect(seen.includes(marker), "the model saw the other user's data").toBe(false);
        const bodies = JSON.stringify(model.requests.map((r) => r.body));
        expect(bodies.includes(apiKey), 'the provider key reached the agent').toBe(false);
        expect(outputs.join('\n').includes(apiKey)).toBe(false);
        expect(outputs.join('\n').includes(marker)).toBe(false);
        // The key does travel upstream (from the proxy), only in the header.
        expect(model.requests.every((r) => r.headers['x-api-key'] === apiKey)).toBe(true);
        expect(await Promise.all(watched.map((w) => snapshot(b(), w)))).toEqual(before);
        expect(await b().files.readText(p, 'index.html')).toBe('<h1>mine</h1>');
      },
      120_000,
    );
  });
}
