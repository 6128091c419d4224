/**
 * What a first real deploy would hit, on an emulator that behaves like Modal where it bites: writes that must be on
 * the volume when the call returns (v2 + `sync`), v1 volumes refused, sandboxes that end behind the backend's back
 * (reaped, terminated out of band, killed mid-exec), Modal not answering, listing that must page forward, and
 * sandboxes shared by several server processes.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModalClient } from 'modal';
import { afterAll, describe, expect, it } from 'vitest';
import { isBackendError, type BackendError } from '@dreamcore/runtime-core';
import { expectCode } from '@dreamcore/runtime-core/conformance';
import { startFakeGemini } from '@dreamcore/runtime-core/testkit';
import { emulatorPrerequisites } from '../src/emulator/index.js';
import { createModalBackend, type ModalBackend } from '../src/index.js';
import { deployForTests, useEmulatedBackends } from './support/emulated.js';

const lane = emulatorPrerequisites().ok ? describe : describe.skip;

lane('Modal backend on Modal semantics (emulator)', () => {
  const { emulator: emu, model: scripted, make } = useEmulatedBackends('durability');
  const unreachable: ModalBackend[] = [];
  afterAll(async () => void (await Promise.allSettled(unreachable.map((b) => b.close()))));
  const newScope = () => ({ userId: randomUUID(), projectId: randomUUID() });
  const sandboxId = async (b: ModalBackend, userId: string) => (await b.userSandbox(userId)).sandboxId;

  /** A sandbox of our own on the user's volume, as another container would see it (it mounts what is committed). */
  async function freshView(b: ModalBackend, userId: string, script: string): Promise<string> {
    const client: ModalClient = await b.modalClient();
    const app = await client.apps.fromName('durability-observer', { createIfMissing: true });
    const volume = await client.volumes.fromName(`dreamcore-user-${userId}`);
    const sb = await client.sandboxes.create(app, client.images.fromRegistry('debian:bookworm-slim'), { volumes: { '/v': volume }, timeoutMs: 60_000 });
    try {
      const proc = await sb.exec(['sh', '-c', script], { stdout: 'pipe', stderr: 'pipe' });
      const [out, code] = await Promise.all([proc.stdout.readText(), proc.wait()]);
      expect(code).toBe(0);
      return out;
    } finally {
      await sb.terminate();
    }
  }

  it('a write survives its sandbox being killed right after the call returned', async () => {
    const b = make();
    const scope = newScope();
    await b.files.write(scope, 'index.html', 'kept');
    await emu().killSandbox(await sandboxId(b, scope.userId));
    expect(await b.files.readText(scope, 'index.html')).toBe('kept');

    await b.git.init(scope);
    await b.files.write(scope, 'game.js', 'let x = 1;');
    const commit = await b.git.commit(scope, 'add game');
    await emu().killSandbox(await sandboxId(b, scope.userId));
    expect((await b.git.log(scope)).commits[0]?.hash).toBe(commit.hash);

    await b.files.delete(scope, 'game.js');
    await emu().killSandbox(await sandboxId(b, scope.userId));
    expect(await b.files.exists(scope, 'game.js')).toBe(false);

    scripted().setScript([{ text: 'Writing.', toolUses: [{ name: 'Write', input: { file_path: 'agent.txt', content: 'by the agent' } }] }, { text: 'Done.' }]);
    const run = b.runClaude({ scope, prompt: 'write it' });
    for await (const event of run) void event;
    expect((await run.result).filesChanged).toContain('agent.txt');
    await emu().killSandbox(await sandboxId(b, scope.userId));
    expect(await b.files.readText(scope, 'agent.txt')).toBe('by the agent');

    // A turn with its commit and read in the run's own request: one volume commit at the request's end covers the
    // run's files and its commit, before the result is reported.
    scripted().setScript([{ text: 'Writing.', toolUses: [{ name: 'Write', input: { file_path: 'turn.txt', content: 'turned' } }] }, { text: 'Done.' }]);
    const turn = b.runClaude({ scope, prompt: 'turn', after: { commit: { subject: 'Turn' }, read: ['turn.txt'] } });
    for await (const event of turn) void event;
    const { after } = await turn.result;
    expect(after?.files).toEqual({ 'turn.txt': 'turned' });
    await emu().killSandbox(await sandboxId(b, scope.userId));
    expect(await b.files.readText(scope, 'turn.txt')).toBe('turned');
    expect((await b.git.log(scope)).commits[0]).toMatchObject({ hash: after!.commit!.hash, message: 'Turn\n\nDone.' });

    // A run that fails after writing (cancelled while the model hangs): nothing is committed, but what it wrote is
    // on the volume when the failure is reported (the request's sync runs whatever became of the run).
    scripted().setScript([
      { text: 'Writing.', toolUses: [{ name: 'Write', input: { file_path: 'half.txt', content: 'half' } }] },
      { text: 'x', fault: { hang: true } },
    ]);
    const controller = new AbortController();
    const failed = b.runClaude({ scope, prompt: 'half', signal: controller.signal, after: { commit: { subject: 'Never' } } });
    for await (const event of failed) if (event.type === 'tool_result') controller.abort();
    await expect(failed.result).rejects.toThrow();
    await emu().killSandbox(await sandboxId(b, scope.userId));
    expect(await b.files.readText(scope, 'half.txt')).toBe('half');
    expect((await b.git.log(scope)).commits[0]!.message).toBe('Turn\n\nDone.');
  }, 120_000);

  it('a write made in one sandbox is on the volume for a new sandbox as soon as the call returns', async () => {
    const b = make();
    const scope = newScope();
    await b.files.write(scope, 'index.html', 'visible');
    await b.files.write({ userId: scope.userId, assets: true }, 'hero_00000000.png', 'png');
    // The user's sandbox is still running and never synced by anything but the backend.
    expect(await freshView(b, scope.userId, `cat /v/projects/${scope.projectId}/index.html; cat /v/assets/hero_00000000.png`)).toBe('visiblepng');
  });

  it('a user whose volume is v1 is refused with the migration command, and nothing starts', async () => {
    const b = make();
    const scope = newScope();
    const client = await b.modalClient();
    await client.volumes.fromName(`dreamcore-user-${scope.userId}`, { createIfMissing: true, version: 1 });
    emu().resetCounts();
    const error = (await b.files.write(scope, 'index.html', 'x').catch((e: unknown) => e)) as BackendError;
    expect(isBackendError(error, 'NOT_CONFIGURED')).toBe(true);
    expect(error.message).toContain(`modal:migrate-v1 -- dreamcore-user-${scope.userId}`);
    await expectCode(b.prewarm({ userId: scope.userId }), 'NOT_CONFIGURED');
    expect(emu().rpcCounts().SandboxCreateV2).toBeUndefined();
    expect(emu().volumeVersion(`dreamcore-user-${scope.userId}`)).toBe(1);
  });

  it('a reaped sandbox is replaced before use, and prewarm revives it', async () => {
    const b = make({ sandbox: { idleTimeoutMs: 1000 } });
    const scope = newScope();
    await b.files.write(scope, 'index.html', 'x');
    const first = await b.userSandbox(scope.userId);
    expect(await first.wait()).toBe(0); // reaped for idleness (GENERIC_STATUS_IDLE_TIMEOUT has no exit code)
    await b.prewarm({ userId: scope.userId });
    const revived = await b.userSandbox(scope.userId);
    expect(revived.sandboxId).not.toBe(first.sandboxId);
    expect(await revived.poll()).toBeNull();
    expect(await b.files.readText(scope, 'index.html')).toBe('x');
    // Reaped again: the next call itself finds out from the sandbox's state and carries on.
    expect(await revived.wait()).toBe(0);
    emu().resetCounts();
    expect(await b.files.readText(scope, 'index.html')).toBe('x');
    expect(emu().rpcCounts().SandboxCreateV2).toBe(1);
  }, 60_000);

  it('a sandbox terminated out of band is replaced; one killed mid-run ends the run with SANDBOX_ERROR, then is replaced', async () => {
    const b = make();
    const scope = newScope();
    await b.files.write(scope, 'index.html', 'x');
    await emu().terminateSandbox(await sandboxId(b, scope.userId));
    expect(await b.files.readText(scope, 'index.html')).toBe('x');

    scripted().setScript([{ text: 'Working...', fault: { hang: true } }]);
    const victim = await sandboxId(b, scope.userId);
    const run = b.runClaude({ scope, prompt: 'take forever' });
    for await (const event of run) {
      if (event.type === 'status' && event.status === 'requesting') await emu().killSandbox(victim);
    }
    await expectCode(run.result, 'SANDBOX_ERROR');
    expect(await b.files.readText(scope, 'index.html')).toBe('x');
    expect(await sandboxId(b, scope.userId)).not.toBe(victim);
  }, 60_000);

  it('with Modal unreachable every capability fails with a BackendError within its deadline', async () => {
    const deadlines = { rpcMs: 1000, commandMs: 1500, sandboxStartMs: 1500 };
    // Gemini answers: generateImage gets as far as storing the picture, which needs Modal.
    const gemini = await startFakeGemini();
    const options = { deadlines, video: { enabled: true }, gemini: { apiKey: 'gemini-key', baseUrl: gemini.url } };
    const warm = make(options);
    // Git calls on one project wait for each other (then each has its own deadline): a few projects keep the case short.
    const userId = randomUUID();
    const project = () => ({ userId, projectId: randomUUID() });
    const [scope, second, third, fourth] = [project(), project(), project(), project()];
    const [, head, thirdHead] = await Promise.all(
      [scope, second, third, fourth].map(async (s) => {
        await warm.files.write(s, 'index.html', 'x');
        return (await warm.git.init(s)).head;
      }),
    );
    const bundle = await warm.git.exportBundle(fourth);
    const cold = make(options);
    emu().setReachable(false);
    try {
      for (const b of [warm, cold]) {
        const assets = { userId: scope.userId, assets: true as const };
        const calls: [string, Promise<unknown>][] = [
          ['files.read', b.files.read(scope, 'index.html')],
          ['files.readText', b.files.readText(scope, 'index.html')],
          ['files.write', b.files.write(scope, 'a.txt', 'a')],
          // (A call abandoned at its deadline may still land once Modal answers again, so none of these touch index.html.)
          ['files.delete', b.files.delete(scope, 'missing.txt')],
          ['files.list', b.files.list(scope)],
          ['files.exists', b.files.exists(scope, 'index.html')],
          ['files.stat', b.files.stat(scope, 'index.html')],
          ['files.listProjects', b.files.listProjects({ userId: scope.userId })],
          ['files.listUsers', b.files.listUsers!()],
          ['files.deleteProject', b.files.deleteProject({ userId: scope.userId, projectId: randomUUID() })],
          ['assets.write', b.files.write(assets, 'hero_00000000.png', 'p')],
          ['git.log', b.git.log(scope)],
          ['git.commit', b.git.commit(scope, 'm')],
          ['git.init', b.git.init(newScope())],
          ['git.diff', b.git.diff(second, head!)],
          ['git.readAt', b.git.readAt(second, head!, 'index.html')],
          ['git.restore', b.git.restore(third, thirdHead!)],
          ['git.verify', b.git.verify(third)],
          ['git.exportBundle', b.git.exportBundle(fourth)],
          ['git.importBundle', b.git.importBundle(newScope(), bundle)],
          ['runClaude', b.runClaude({ scope, prompt: 'hi' }).result],
          ['generateImage', b.generateImage({ scope: { userId: scope.userId }, prompt: 'a red ball', width: 64, height: 64 })],
          ['renderVideo', b.renderVideo({ scope })],
          ['checkGame', b.checkGame({ scope })],
          ['prewarm', b.prewarm({ userId: randomUUID() })],
        ];
        const outcomes = await Promise.all(
          calls.map(
            async ([name, call]) =>
              [
                name,
                await call.then(
                  () => 'resolved',
                  (e: unknown) => e,
                ),
              ] as const,
          ),
        );
        for (const [name, outcome] of outcomes) {
          expect(isBackendError(outcome), `${name}: ${String(outcome)}`).toBe(true);
          expect((outcome as BackendError).code, name).toBe('NETWORK_ERROR');
        }
      }
    } finally {
      emu().setReachable(true);
      await gemini.close();
    }
    expect(await warm.files.readText(scope, 'index.html')).toBe('x');
  }, 90_000);

  it('Modal refusing connections is NETWORK_ERROR too, not a raw gRPC error', async () => {
    const b = createModalBackend({
      serverUrl: 'http://127.0.0.1:9', // discard port: nothing listens
      tokenId: 'ak-x',
      tokenSecret: 'as-x',
      deadlines: { rpcMs: 20_000, commandMs: 20_000, sandboxStartMs: 20_000 },
      log: () => undefined,
    });
    unreachable.push(b);
    const scope = newScope();
    await expectCode(b.files.readText(scope, 'index.html'), 'NETWORK_ERROR');
    await expectCode(b.files.listUsers!(), 'NETWORK_ERROR');
  }, 60_000);

  it('listUsers pages on the current fields with a cursor that moves back, without starting a sandbox', async () => {
    const b = make();
    const client = await b.modalClient();
    const ids = Array.from({ length: 230 }, () => randomUUID());
    for (let i = 0; i < ids.length; i += 23) {
      await Promise.all(ids.slice(i, i + 23).map((id) => client.volumes.fromName(`dreamcore-user-${id}`, { createIfMissing: true, version: 2 })));
    }
    await client.volumes.fromName('not-a-user-volume', { createIfMissing: true });
    emu().resetCounts();
    const users = await b.files.listUsers!();
    expect(users).toEqual([...users].sort());
    for (const id of ids) expect(users).toContain(id);
    expect(users.every((id) => /^[0-9a-f-]{36}$/.test(id))).toBe(true);
    expect(emu().rpcCounts().VolumeList).toBeGreaterThanOrEqual(3);
    expect(emu().rpcCounts().SandboxCreateV2).toBeUndefined();
  });

  it('skills deployed to the skills volume reach the agent; one that is not there is NOT_FOUND', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'skills-'));
    mkdirSync(path.join(folder, 'tiny-games'));
    writeFileSync(path.join(folder, 'tiny-games', 'SKILL.md'), '# Tiny games\nKeep every game under 100 lines.\n');
    try {
      await deployForTests(emu(), 'durability', { skillsDir: folder });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
    const b = make();
    const scope = newScope();
    await b.files.write(scope, 'index.html', 'x');
    scripted().setScript((_request, ctx) =>
      ctx.turnIndex === 0
        ? {
            text: 'Reading the skill.',
            toolUses: [{ name: 'Bash', input: { command: 'cat "$CLAUDE_CONFIG_DIR/skills/tiny-games/SKILL.md"', description: 'x' } }],
          }
        : { text: 'Done.' },
    );
    const events = [];
    for await (const event of b.runClaude({ scope, prompt: 'use the skill', skills: ['tiny-games'] })) events.push(event);
    expect(events.find((e) => e.type === 'tool_result')).toMatchObject({ content: expect.stringContaining('under 100 lines') });
    await expectCode(b.runClaude({ scope, prompt: 'x', skills: ['not-deployed'] }).result, 'NOT_FOUND');
  }, 60_000);

  it('closing one server process leaves the shared sandbox running for the others', async () => {
    const a = make();
    const b = make();
    const scope = newScope();
    await a.files.write(scope, 'index.html', 'shared');
    expect(await b.files.readText(scope, 'index.html')).toBe('shared');
    const shared = (await a.userSandbox(scope.userId)).sandboxId;
    await a.close();
    expect(await (await (await b.modalClient()).sandboxes.fromId(shared)).poll()).toBeNull();
    emu().resetCounts();
    expect(await b.files.readText(scope, 'index.html')).toBe('shared');
    expect(emu().rpcCounts().SandboxCreateV2).toBeUndefined();
  });
});
