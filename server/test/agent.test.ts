/**
 * The game-making agent through the server's job path (local backend, the real CLI, the scripted model): demo mode
 * shows everything (a skill, SPEC.md, a sprite from the image tool, a passing game check, the project named from its
 * spec, three suggestions), and a broken game gets exactly one repair turn that the user sees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STANDING_INSTRUCTIONS, type GameCheckResult } from '@dreamcore/runtime-core';
import { buildGame, demoScript } from '@dreamcore/runtime-core/demo';
import type { ScriptFunction } from '@dreamcore/runtime-core/testkit';
import { api, Client, runMessage, signUp, startHarness, type Harness, type Session } from './support/harness.js';
import { CAN_RUN_BROWSER, launchChromium, newContext, newPage, shot, signInAs } from './support/browser-kit.js';

const BROKEN = buildGame('catcher').replace('<script>', '<script>\nconst broken = ;\n');
const REPAIR_MARK = 'does not work yet';

/** Writes a game with a syntax error; asked to repair, writes a working one (each run reads the page before writing it). */
const brokenThenRepaired: ScriptFunction = (_request, ctx) => {
  const repairing = ctx.prompt.includes(REPAIR_MARK);
  const last = ctx.toolResults[0];
  if (!last) return { text: repairing ? 'Let me look.' : 'Here is your game.', toolUses: [{ name: 'Read', input: { file_path: 'index.html' } }] };
  if (last.name === 'Read') {
    return {
      text: repairing ? 'Fixing it.' : '',
      toolUses: [{ name: 'Write', input: { file_path: 'index.html', content: repairing ? buildGame('catcher') : BROKEN } }],
    };
  }
  return { text: repairing ? 'I fixed a problem; it works now.' : 'Done!' };
};

describe('the game-making agent on the job path', () => {
  let h: Harness;
  let alice: Session;

  beforeAll(async () => {
    h = await startHarness({ script: demoScript, env: { GAME_CHECK: 'true' } });
    alice = await signUp(h.url);
  }, 180_000);
  afterAll(async () => {
    await h?.close();
  }, 120_000);

  const generate = (client: Client, projectId: string, content: string) => runMessage(client, projectId, content, 150_000);

  async function createProject(client: Client, name?: string): Promise<string> {
    client.send({ type: 'createProject', ...(name ? { name } : {}) });
    return (await client.next((m) => m.type === 'projectCreated')).project.id as string;
  }

  it('demo mode: a skill, SPEC.md, a sprite, a passing check, the project named from its spec, three suggestions', async () => {
    h.model.setScript(demoScript);
    h.model.requests.length = 0;
    const client = await Client.init(h.url, alice.accessToken);
    const projectId = await createProject(client);
    const { jobId, end, events } = await generate(client, projectId, 'Make a space shooter game');
    expect(end.type, JSON.stringify(end).slice(0, 500)).toBe('completed');
    const types = events.map((e) => e.type);

    // The model got the standing instructions and the 2D skills (no 3D one), and the agent read a skill.
    const first = h.model.messageRequests[0]!.body as { system: unknown; messages: unknown; tools: { name: string }[] };
    expect(JSON.stringify(first.system)).toContain("You are DreamCore's game maker");
    expect(JSON.stringify(first.system)).toContain(JSON.stringify(STANDING_INSTRUCTIONS.split('\n').at(-2)).slice(1, -1));
    expect(JSON.stringify(first.messages)).toContain('- game-loop:');
    expect(JSON.stringify(first.messages)).not.toContain('- threejs-3d:');
    expect(first.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['Skill', 'mcp__dreamcore__generate_image', 'mcp__dreamcore__suggest_next_steps']));
    const lastMessages = h.model.messageRequests.map((r) => (r.body as { messages: unknown[] }).messages.at(-1));
    expect(JSON.stringify(lastMessages)).toContain('Launching skill: game-loop');

    // SPEC.md and the game; the sprite is the user's asset, the game uses it, and the client heard of it.
    const scope = { userId: alice.userId, projectId };
    const spec = await h.server.ctx.backend.files.readText(scope, 'SPEC.md');
    expect(spec).toMatch(/^# Star Blaster\n/);
    const images = events.filter((e) => e.type === 'imagesGenerated');
    expect(images).toHaveLength(1);
    const [alias, url] = Object.entries(images[0]!.images as Record<string, string>)[0]!;
    expect(url).toBe(`/user-assets/${alice.userId}/${alias}`);
    expect(await h.server.ctx.backend.files.readText(scope, 'index.html')).toContain(url);
    const assets = await api(h.url, alice.accessToken)('GET', '/api/assets');
    expect(JSON.stringify(assets.json)).toContain(alias!);
    expect((await fetch(`${h.url}${url}`)).headers.get('content-type')).toBe('image/png');

    // The game check passed, once, before `completed`; no repair turn.
    const checks = events.filter((e) => e.type === 'gameCheck');
    expect(checks).toHaveLength(1);
    expect(checks[0]!.check).toMatchObject({ passed: true, attempt: 1, errors: [] });
    expect(types.indexOf('gameCheck')).toBeLessThan(types.indexOf('completed'));

    // Named from the spec, announced on the job's stream; three suggestions with the result.
    const renamed = events.find((e) => e.type === 'projectRenamed');
    expect(renamed?.project).toMatchObject({ id: projectId, name: 'Star Blaster' });
    expect(end.result.suggestions).toHaveLength(3);
    expect(end.result.gameCheck).toMatchObject({ passed: true });
    // The job row keeps it all; the image is in the cost.
    const job = await h.server.ctx.db.service.getJob(jobId);
    expect(job).toMatchObject({ repairTurns: 0, imagesGenerated: 1 });
    expect(JSON.parse(job!.gameCheck!)).toMatchObject({ passed: true });
    expect(job!.costUsd).toBeGreaterThan(0.039);
    expect(end.job).toMatchObject({ repair_turns: 0, images_generated: 1, game_check: { passed: true } });
    // A follow-up keeps the name (only a first generation names the project).
    const again = await generate(client, projectId, 'make it faster');
    expect(again.end.type).toBe('completed');
    expect(again.events.some((e) => e.type === 'projectRenamed')).toBe(false);

    client.close();
  }, 300_000);

  it('a broken game fails the check, gets exactly one repair turn, and the repaired game passes; the user sees both', async () => {
    h.model.setScript(brokenThenRepaired);
    h.model.requests.length = 0;
    const client = await Client.init(h.url, alice.accessToken);
    const projectId = await createProject(client, 'Broken');
    const { jobId, end, events } = await generate(client, projectId, 'Make a catching game');
    expect(end.type, JSON.stringify(end).slice(0, 500)).toBe('completed');
    const checks = events.filter((e) => e.type === 'gameCheck').map((e) => e.check as GameCheckResult & { attempt: number });
    expect(checks.map((c) => [c.attempt, c.passed])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(checks[0]!.errors.join('\n')).toMatch(/SyntaxError/);
    // Exactly one repair run reached the model, carrying the errors.
    const repairRuns = h.model.messageRequests.filter((r) => JSON.stringify(r.body).includes(REPAIR_MARK));
    expect(repairRuns.length).toBeGreaterThan(0);
    expect(JSON.stringify(repairRuns[0]!.body)).toContain('SyntaxError');
    const repairStarts = h.model.messageRequests.filter((r) => {
      const messages = (r.body as { messages: { role: string }[] }).messages;
      return messages.at(-1)?.role === 'user' && JSON.stringify(messages.at(-1)).includes(REPAIR_MARK);
    });
    expect(repairStarts).toHaveLength(1);
    // The user sees the first reply and the repair's.
    expect(end.result.message).toContain('Here is your game.');
    expect(end.result.message).toContain('I fixed a problem');
    expect(end.result.html).not.toContain('const broken = ;');
    expect(await h.server.ctx.db.service.getJob(jobId)).toMatchObject({ repairTurns: 1 });
    // A project its user named keeps its name.
    expect(events.some((e) => e.type === 'projectRenamed')).toBe(false);
    client.close();
  }, 300_000);

  it('GAME_CHECK_REPAIR_TURNS=0 turns the repair off: the failed check is reported and the turn stands', async () => {
    const off = await startHarness({ script: brokenThenRepaired, env: { GAME_CHECK: 'true', GAME_CHECK_REPAIR_TURNS: '0' } });
    try {
      const user = await signUp(off.url);
      const client = await Client.init(off.url, user.accessToken);
      const projectId = await createProject(client, 'No repair');
      const { end, events } = await runMessage(client, projectId, 'Make a catching game', 150_000);
      expect(end.type).toBe('completed');
      expect(events.filter((e) => e.type === 'gameCheck').map((e) => [e.check.attempt, e.check.passed])).toEqual([[1, false]]);
      expect(off.model.messageRequests.some((r) => JSON.stringify(r.body).includes(REPAIR_MARK))).toBe(false);
      expect(end.job).toMatchObject({ repair_turns: 0, game_check: { passed: false } });
      client.close();
    } finally {
      await off.close();
    }
  }, 300_000);

  it.skipIf(!CAN_RUN_BROWSER)(
    'in the editor (ja): the check, the picture, the new name and three ideas that send themselves',
    async () => {
      h.model.setScript(demoScript);
      const user = await signUp(h.url);
      const socket = await Client.init(h.url, user.accessToken);
      const projectId = await createProject(socket);
      socket.close();
      const browser = await launchChromium();
      try {
        const { page, errors } = await newPage(await newContext(browser, 'desktop', 'ja-JP'));
        await signInAs(page, h.url, user);
        await page.goto(`${h.url}/#/project/${projectId}`);
        await page.locator('.chat-input').fill('ブロック崩しを作ってください');
        await page.locator('button.send').click();
        const ideas = page.locator('.next-ideas .chip');
        await ideas.nth(2).waitFor({ timeout: 120_000 });
        // The app speaks Japanese to this user, and the agent was told so.
        expect(JSON.stringify(h.model.messageRequests.map((r) => r.body))).toContain("The user's language is Japanese");
        expect(await ideas.allTextContents()).toEqual(['もっと速くして', '色を変えて', '敵を増やして']);
        expect(await page.locator('.game-check[data-passed="true"]').textContent()).toContain('遊んで確かめました');
        expect(await page.locator('.agent-image img').getAttribute('src')).toMatch(new RegExp(`^/user-assets/${user.userId}/`));
        await expect.poll(() => page.title()).toContain('ブロックくずし');
        // What DreamCore did, folded under the reply: in Japanese words with the files' plain names, no tool names.
        const steps = page.locator('.msg-assistant').first().locator('[data-testid="job-steps"]');
        await steps.locator('summary').click();
        expect(await steps.locator('li').allTextContents()).toEqual([
          '計画を立てました',
          '「SPEC.md」を作りました',
          '画像を描きました',
          '「index.html」を作りました',
          '「index.html」を確認しました',
          '「index.html」を作りました',
          '次にできることを考えました',
        ]);
        await shot(page, 'agent-check-ideas-ja');
        // An idea is a message: a click sends it.
        await ideas.first().click();
        await page.locator('.msg-assistant[data-state="done"]').nth(1).waitFor({ timeout: 120_000 });
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    300_000,
  );
});
