/**
 * `dreamcore-modal deploy` and `migrate-v1` on the emulator: the deploy builds and publishes the images, fills the
 * skills volume and checks the key proxy's public URL from inside a sandbox, and a second run does nothing; the
 * backend never builds an image itself; a v1 user volume is moved to v2 with its data and a backup.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBackendError, startKeyProxy, type BackendError, type KeyProxy } from '@dreamcore/runtime-core';
import { emulatorPrerequisites, startModalEmulator, type ModalEmulator } from '../src/emulator/index.js';
import { main } from '../src/cli.js';
import { createModalBackend, deployModal, imageSpec, migrateV1Volumes, resolveModalConfig, type DeployOptions, type ModalBackend } from '../src/index.js';

const lane = emulatorPrerequisites().ok ? describe : describe.skip;

lane('dreamcore-modal deploy and migrate-v1 (emulator)', () => {
  let emulator: ModalEmulator;
  let skills: string;
  let proxy: KeyProxy;
  let proxyUrl: string;
  const backends: ModalBackend[] = [];

  beforeAll(async () => {
    emulator = await startModalEmulator();
    process.env.MODAL_CONFIG_PATH = path.join(emulator.stateDir, 'no-modal.toml');
    skills = mkdtempSync(path.join(tmpdir(), 'deploy-skills-'));
    for (const [name, body] of [
      ['pixel-art', '# Pixel art\nUse a 16-colour palette.\n'],
      ['sound', '# Sound\nUse WebAudio.\n'],
    ]) {
      mkdirSync(path.join(skills, name!, 'examples'), { recursive: true });
      writeFileSync(path.join(skills, name!, 'SKILL.md'), body!);
      writeFileSync(path.join(skills, name!, 'examples', 'a.txt'), `${name} example\n`);
    }
    mkdirSync(path.join(skills, 'not-a-skill')); // no SKILL.md: left out
    // The server's key proxy, already running on its port, published as the ingress would.
    proxy = await startKeyProxy({ upstream: 'http://127.0.0.1:9', apiKey: 'k' });
    proxyUrl = (await emulator.publish(proxy.port)).url;
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(backends.map((b) => b.close()));
    await proxy?.close();
    await emulator?.close();
    rmSync(skills, { recursive: true, force: true });
  }, 60_000);

  /** The emulator's URL and tokens, for an app of this file. */
  const modal = (appName = 'deploy-test') => {
    const env = emulator.clientEnv();
    return { serverUrl: env.MODAL_SERVER_URL, tokenId: env.MODAL_TOKEN_ID, tokenSecret: env.MODAL_TOKEN_SECRET, appName, log: () => undefined };
  };
  const backend = (appName?: string) => {
    const b = createModalBackend(modal(appName));
    backends.push(b);
    return b;
  };
  const options = (extra: Partial<DeployOptions> = {}): DeployOptions => {
    return {
      ...modal(),
      skillsDir: skills,
      agent: { proxyPublicUrl: proxyUrl, keyProxyPort: proxy.port },
      ...extra,
    };
  };
  const committed = (volume: string, file: string) => readFileSync(path.join(emulator.volumePath(volume)!, file), 'utf8');

  it('builds and publishes the images, fills the skills volume, checks the proxy from a sandbox; a second run does nothing', async () => {
    const lines: string[] = [];
    const first = await deployModal({ ...options(), onStep: (line) => lines.push(line) }, {});
    expect(first.images.map((i) => [i.role, i.action])).toEqual([
      ['user', 'built'],
      ['render', 'built'],
    ]);
    const config = resolveModalConfig(options(), {});
    expect(first.images.map((i) => i.name)).toEqual([imageSpec(config, 'user').name, imageSpec(config, 'render').name]);
    expect(first.skills.uploaded.sort()).toEqual(['pixel-art/SKILL.md', 'pixel-art/examples/a.txt', 'sound/SKILL.md', 'sound/examples/a.txt']);
    expect(first.proxy).toEqual({ url: proxyUrl, answeredBy: 'server' });
    expect(proxy.stats.refused).toBeGreaterThan(0); // the check reached this proxy, through the published address
    expect(first.changed).toBe(true);
    // Committed to the v2 skills volume: a sandbox starting now sees them.
    expect(emulator.volumeVersion('dreamcore-skills')).toBe(2);
    expect(committed('dreamcore-skills', 'pixel-art/SKILL.md')).toContain('16-colour');
    expect(existsSync(path.join(emulator.volumePath('dreamcore-skills')!, 'not-a-skill'))).toBe(false);
    expect(lines.join('\n')).toMatch(/tokens: accepted[\s\S]*built and published[\s\S]*skills: 4 uploaded[\s\S]*key proxy: .* answers/);

    emulator.resetCounts();
    const again = await deployModal(options(), {});
    expect(again.changed).toBe(false);
    expect(again.images.map((i) => i.action)).toEqual(['up to date', 'up to date']);
    expect(again.skills).toMatchObject({ uploaded: [], removed: [], unchanged: 4 });
    const counts = emulator.rpcCounts();
    expect(counts.ImageGetOrCreate).toBeUndefined();
    expect(counts.ImagePublish).toBeUndefined();

    // A changed file and a removed skill are mirrored.
    writeFileSync(path.join(skills, 'sound', 'SKILL.md'), '# Sound\nUse WebAudio, quietly.\n');
    rmSync(path.join(skills, 'pixel-art'), { recursive: true });
    const third = await deployModal(options(), {});
    expect(third.skills.uploaded).toEqual(['sound/SKILL.md']);
    expect(third.skills.removed.sort()).toEqual(['pixel-art/SKILL.md', 'pixel-art/examples/a.txt']);
    expect(committed('dreamcore-skills', 'sound/SKILL.md')).toContain('quietly');
    expect(existsSync(path.join(emulator.volumePath('dreamcore-skills')!, 'pixel-art'))).toBe(false);
  }, 300_000);

  it('the command prints what it did and exits 0; a URL that is not the key proxy fails the deploy', async () => {
    const out: string[] = [];
    const env = emulator.clientEnv();
    const saved = { ...process.env };
    Object.assign(process.env, env, {
      MODAL_APP_NAME: 'deploy-test',
      DREAMCORE_SKILLS_DIR: skills,
      MODAL_KEY_PROXY_URL: proxyUrl,
      MODAL_KEY_PROXY_PORT: String(proxy.port),
    });
    try {
      expect(await main(['deploy'], { log: (line) => out.push(line), error: (line) => out.push(line) })).toBe(0);
      expect(out.at(-1)).toBe('deploy: nothing to do, everything was up to date');
    } finally {
      process.env = saved;
    }
    const error = (await deployModal(options({ agent: { proxyPublicUrl: `http://198.18.0.1:9`, keyProxyPort: proxy.port } }), {}).catch(
      (e: unknown) => e,
    )) as BackendError;
    expect(isBackendError(error, 'NOT_CONFIGURED')).toBe(true);
    expect(error.message).toContain('does not reach a DreamCore key proxy from inside a Modal sandbox');
  }, 120_000);

  it('the backend never builds an image: an app that was not deployed is NOT_CONFIGURED, naming the command', async () => {
    const b = backend('never-deployed');
    emulator.resetCounts();
    const error = (await b.files.write({ userId: randomUUID(), projectId: randomUUID() }, 'index.html', 'x').catch((e: unknown) => e)) as BackendError;
    expect(isBackendError(error, 'NOT_CONFIGURED')).toBe(true);
    expect(error.message).toContain('npm run modal:deploy');
    expect(emulator.rpcCounts().ImageGetOrCreate).toBeUndefined();
    expect(emulator.rpcCounts().SandboxCreateV2).toBeUndefined();
  });

  it('migrate-v1 moves a v1 user volume to v2 with its data, keeps the old one, and a rerun skips it', async () => {
    const userId = randomUUID();
    const name = `dreamcore-user-${userId}`;
    // A user from before v2: data on a v1 volume, committed when its sandbox ended.
    const b = backend();
    const client = await b.modalClient();
    const old = await client.volumes.fromName(name, { createIfMissing: true, version: 1 });
    const app = await client.apps.fromName('deploy-test');
    const userImage = await client.images.fromName(imageSpec(resolveModalConfig(options(), {}), 'user').name);
    const writer = await client.sandboxes.create(app, userImage, { volumes: { '/vol': old } });
    const proc = await writer.exec(['sh', '-c', 'mkdir -p /vol/projects/p && echo kept > /vol/projects/p/index.html']);
    expect(await proc.wait()).toBe(0);
    await writer.terminate();
    await writer.wait();
    await expect(b.files.list({ userId, projectId: randomUUID() })).rejects.toMatchObject({ code: 'NOT_CONFIGURED' });

    const report = await migrateV1Volumes({ ...modal(), volumes: 'all' }, {});
    expect(report.migrated).toEqual([{ name, files: 1, backup: `${name}.v1` }]);
    expect(emulator.volumeVersion(name)).toBe(2);
    expect(emulator.volumeVersion(`${name}.v1`)).toBe(1);
    expect(committed(name, 'projects/p/index.html')).toBe('kept\n');
    const rerun = await migrateV1Volumes({ ...modal(), volumes: [name] }, {});
    expect(rerun).toEqual({ migrated: [], skipped: [{ name, why: 'already v2' }] });
  }, 120_000);
});
