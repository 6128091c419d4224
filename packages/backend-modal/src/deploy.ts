/**
 * `dreamcore-modal deploy` (`npm run modal:deploy`): everything a Modal deployment needs before the first user, so
 * no user ever waits for it. Idempotent: a second run changes nothing and says so.
 *
 * 1. Tokens: the app is looked up (made if missing); refused credentials stop here.
 * 2. Images: the user image and the render image are built from their recipes and published under names that carry
 *    the recipe's hash (images.ts); a name already published is left alone (one look-up, no build).
 * 3. Skills: the skills folder (`<skill>/SKILL.md` and what it holds; default: the skills runtime-core ships, which the
 *    local backend uses too) is mirrored into the v2 skills volume from inside a sandbox: what differs is uploaded in one tar, what is
 *    gone is removed, then `sync`. Without a folder the volume is left as it is.
 * 4. The key proxy's public URL, from inside a sandbox with the user sandboxes' network rules: it must answer as the
 *    key proxy does (401 for a token it did not issue). If nothing listens on MODAL_KEY_PROXY_PORT here, a proxy is
 *    started for the check, so it works before the server runs.
 * 5. Optionally (`restartSandboxes`) running user sandboxes are ended, so the next call starts one on the new image.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { App, ModalClient, Sandbox, Volume } from 'modal';
import { createError, isBackendError, SKILLS_DIR, startKeyProxy, type KeyProxy } from '@dreamcore/runtime-core';
import { createModalClient, errorClass, execText, modalFailure, withDeadline } from './client.js';
import { MIGRATE_V1_COMMAND, resolveModalConfig, type ModalBackendOptions, type ResolvedModalConfig } from './config.js';
import { imageSpec, type ImageRole } from './images.js';
import { outboundAllowlist } from './sandboxes.js';

const execFileAsync = promisify(execFile);
const SKILL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Building an image on Modal can take minutes (chromium, fonts, npm); nothing else waits this long. */
const BUILD_DEADLINE_MS = 30 * 60_000;
const SKILLS_MOUNT = '/skills';

export interface DeployOptions extends ModalBackendOptions {
  /** The skills folder (default `DREAMCORE_SKILLS_DIR`, else the skills shipped with runtime-core, as on the local backend). */
  skillsDir?: string;
  /** End running user sandboxes so they restart on the new image. */
  restartSandboxes?: boolean;
  /** Progress lines (default: none; the bin prints them). */
  onStep?: (line: string) => void;
}

export interface DeployReport {
  app: string;
  images: { role: ImageRole; name: string; imageId: string; action: 'built' | 'up to date' }[];
  skills: { folder: string | null; uploaded: string[]; removed: string[]; unchanged: number };
  proxy: { url: string; answeredBy: 'server' | 'deploy check' } | null;
  restarted: number;
  /** Whether this run changed anything on Modal. */
  changed: boolean;
}

export async function deployModal(options: DeployOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<DeployReport> {
  const config = resolveModalConfig(options, env);
  const say = options.onStep ?? (() => undefined);
  const { client } = await createModalClient(config);
  const scope = config.environment ? { environment: config.environment } : {};
  try {
    const app = await step('checking the Modal tokens', config.deadlines.rpcMs, () =>
      client.apps.fromName(config.appName, { createIfMissing: true, ...scope }),
    );
    say(`tokens: accepted (app ${config.appName}${config.environment ? `, environment ${config.environment}` : ''})`);

    const images: DeployReport['images'] = [];
    for (const role of config.video.enabled ? (['user', 'render'] as const) : (['user'] as const)) {
      const spec = imageSpec(config, role);
      const existing = await step(`looking up the ${role} image`, config.deadlines.rpcMs, () => client.images.fromName(spec.name, scope).catch(notFoundAsNull));
      if (existing) {
        images.push({ role, name: spec.name, imageId: existing.imageId, action: 'up to date' });
        say(`image ${spec.name}: up to date (${existing.imageId})`);
        continue;
      }
      say(`image ${spec.name}: building (on Modal this can take a few minutes)`);
      const built = await step(`building the ${role} image`, BUILD_DEADLINE_MS, () =>
        client.images.fromRegistry(spec.base).dockerfileCommands(spec.commands).build(app),
      );
      await step(`publishing the ${role} image`, config.deadlines.rpcMs, () => built.publish(spec.name, scope));
      images.push({ role, name: spec.name, imageId: built.imageId, action: 'built' });
      say(`image ${spec.name}: built and published (${built.imageId})`);
    }

    const folder = skillsFolder(options, env);
    const needsSandbox = folder !== null || Boolean(config.agent.proxyPublicUrl);
    let skills: DeployReport['skills'] = { folder, uploaded: [], removed: [], unchanged: 0 };
    let proxy: DeployReport['proxy'] = null;
    if (!folder) say('skills: the skills folder (DREAMCORE_SKILLS_DIR) does not exist; the skills volume is left as it is');
    if (needsSandbox) {
      const volume = await skillsVolume(client, config);
      const sandbox = await deploySandbox(client, config, app, volume);
      try {
        if (folder) {
          skills = await mirrorSkills(sandbox, config, folder);
          say(
            skills.uploaded.length + skills.removed.length === 0
              ? `skills: up to date (${skills.unchanged} files from ${folder})`
              : `skills: ${skills.uploaded.length} uploaded, ${skills.removed.length} removed, ${skills.unchanged} unchanged (from ${folder})`,
          );
        }
        if (config.agent.proxyPublicUrl) {
          proxy = await checkProxy(sandbox, config);
          say(
            `key proxy: ${proxy.url} answers from inside a sandbox (${proxy.answeredBy === 'server' ? 'the running server' : 'a proxy started for the check'})`,
          );
        }
      } finally {
        await withDeadline(config.deadlines.rpcMs, 'ending the deploy sandbox', () => sandbox.terminate()).catch(() => undefined);
      }
    } else {
      say('key proxy: no MODAL_KEY_PROXY_URL configured; not checked');
    }

    let restarted = 0;
    if (options.restartSandboxes) {
      restarted = await endUserSandboxes(client, app);
      say(`user sandboxes: ${restarted} ended; each user's next call starts one on the new image`);
    } else if (images.some((i) => i.role === 'user' && i.action === 'built')) {
      const running = await step('counting user sandboxes', config.deadlines.rpcMs, () => countUserSandboxes(client, app));
      if (running > 0) say(`user sandboxes: ${running} running keep the previous image until they end (--restart-sandboxes ends them now)`);
    }
    const changed = images.some((i) => i.action === 'built') || skills.uploaded.length > 0 || skills.removed.length > 0 || restarted > 0;
    say(changed ? 'deploy: done' : 'deploy: nothing to do, everything was up to date');
    return { app: config.appName, images, skills, proxy, restarted, changed };
  } finally {
    client.close();
  }
}

/** Runs one step with a deadline; any failure is a contract error naming the step. */
async function step<T>(what: string, deadlineMs: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await withDeadline(deadlineMs, what, fn);
  } catch (error) {
    throw modalFailure(error, what);
  }
}

function notFoundAsNull(error: unknown): null {
  if (errorClass(error) === 'NotFoundError') return null;
  throw error;
}

function skillsFolder(options: DeployOptions, env: NodeJS.ProcessEnv): string | null {
  const folder = path.resolve(options.skillsDir ?? (env.DREAMCORE_SKILLS_DIR || SKILLS_DIR));
  return existsSync(folder) && statSync(folder).isDirectory() ? folder : null;
}

async function skillsVolume(client: ModalClient, config: ResolvedModalConfig): Promise<Volume> {
  try {
    return await withDeadline(config.deadlines.rpcMs, 'the skills volume', () =>
      client.volumes.fromName(config.skillsVolume, { createIfMissing: true, version: 2, ...(config.environment ? { environment: config.environment } : {}) }),
    );
  } catch (error) {
    if (errorClass(error) === 'InvalidError') {
      throw createError(
        'NOT_CONFIGURED',
        `the skills volume ${config.skillsVolume} is a v1 volume; move it to v2 first: ${MIGRATE_V1_COMMAND} ${config.skillsVolume}`,
      );
    }
    throw modalFailure(error, 'the skills volume');
  }
}

/** A short-lived sandbox on the user image, with the skills volume and the user sandboxes' network rules. */
async function deploySandbox(client: ModalClient, config: ResolvedModalConfig, app: App, volume: Volume): Promise<Sandbox> {
  return step('starting the deploy sandbox', config.deadlines.sandboxStartMs, async () => {
    const image = await client.images.fromName(imageSpec(config, 'user').name, config.environment ? { environment: config.environment } : {});
    const outbound = await outboundAllowlist(config);
    return client.sandboxes.create(app, image, {
      tags: { app: 'dreamcore', role: 'deploy' },
      volumes: { [SKILLS_MOUNT]: volume },
      timeoutMs: 600_000,
      ...(outbound ? { outboundCidrAllowlist: outbound } : {}),
    });
  });
}

/** Every file of every skill (a folder with SKILL.md) under `folder`, by relative path, with its sha256. */
function localSkills(folder: string): Map<string, string> {
  const files = new Map<string, string>();
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (entry.isFile()) files.set(path.relative(folder, file).split(path.sep).join('/'), createHash('sha256').update(readFileSync(file)).digest('hex'));
    }
  };
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (entry.isDirectory() && SKILL_NAME.test(entry.name) && existsSync(path.join(folder, entry.name, 'SKILL.md'))) visit(path.join(folder, entry.name));
  }
  return files;
}

async function mirrorSkills(sandbox: Sandbox, config: ResolvedModalConfig, folder: string): Promise<DeployReport['skills']> {
  const exec = { timeoutMs: config.deadlines.commandMs, rpcMs: config.deadlines.rpcMs };
  const local = localSkills(folder);
  const listing = await execText(sandbox, ['sh', '-c', `cd ${SKILLS_MOUNT} && find . -type f -print0 | xargs -0 -r sha256sum`], exec);
  if (listing.exitCode !== 0) throw createError('INTERNAL', `listing the skills volume failed: ${listing.stderr.trim()}`);
  const remote = new Map<string, string>();
  for (const line of listing.stdout.split('\n')) {
    const match = /^([0-9a-f]{64}) {2}\.\/(.+)$/.exec(line);
    if (match) remote.set(match[2]!, match[1]!);
  }
  const uploaded = [...local].filter(([file, hash]) => remote.get(file) !== hash).map(([file]) => file);
  const removed = [...remote.keys()].filter((file) => !local.has(file));
  if (uploaded.length + removed.length > 0) {
    const archive = uploaded.length
      ? (await execFileAsync('tar', ['-c', '-C', folder, '--', ...uploaded], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 })).stdout
      : undefined;
    const script = `set -e; cd ${SKILLS_MOUNT}; up=$1; shift; for f in "$@"; do rm -f -- "$f"; done; if [ "$up" = 1 ]; then tar -xf - --no-same-owner; fi; find . -mindepth 1 -type d -empty -delete; sync ${SKILLS_MOUNT}`;
    const r = await execText(sandbox, ['sh', '-c', script, 'skills', archive ? '1' : '0', ...removed], { ...exec, ...(archive ? { stdin: archive } : {}) });
    if (r.exitCode !== 0) throw createError('INTERNAL', `updating the skills volume failed: ${r.stderr.trim()}`);
  }
  return { folder, uploaded, removed, unchanged: local.size - uploaded.length };
}

/**
 * The key proxy's public URL, asked from inside the sandbox as the agent would: the answer must be the proxy's own
 * refusal of a token it did not issue (401, authentication_error), which proves the ingress reaches a DreamCore key
 * proxy. When nothing listens on the configured port here, a proxy is started for the check.
 */
async function checkProxy(sandbox: Sandbox, config: ResolvedModalConfig): Promise<NonNullable<DeployReport['proxy']>> {
  const url = config.agent.proxyPublicUrl!;
  let own: KeyProxy | undefined;
  if (config.agent.keyProxyPort) {
    own = await startKeyProxy({
      upstream: 'http://127.0.0.1:9',
      apiKey: 'deploy-check',
      host: config.agent.keyProxyHost,
      port: config.agent.keyProxyPort,
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') return undefined; // the server is running: ask its proxy
      throw error;
    });
  }
  try {
    const probe = `fetch(process.argv[1] + '/v1/messages', { method: 'POST', headers: { 'x-api-key': 'dreamcore-deploy-check', 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(15000) })
  .then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })))
  .catch((e) => { console.log(JSON.stringify({ error: String(e && (e.cause || e)) })); });`;
    const r = await execText(sandbox, ['node', '-e', probe, url.replace(/\/$/, '')], { timeoutMs: config.deadlines.commandMs, rpcMs: config.deadlines.rpcMs });
    let answer: { status?: number; body?: string; error?: string } = {};
    try {
      answer = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as typeof answer;
    } catch {
      answer = { error: r.stderr.trim() || r.stdout.trim() };
    }
    const isProxy = answer.status === 401 && /authentication_error/.test(answer.body ?? '');
    if (!isProxy) {
      throw createError(
        'NOT_CONFIGURED',
        `the key proxy URL ${url} does not reach a DreamCore key proxy from inside a Modal sandbox (${answer.error ?? `HTTP ${answer.status}: ${(answer.body ?? '').slice(0, 200)}`}); ` +
          `check that it forwards to port ${config.agent.keyProxyPort ?? '(MODAL_KEY_PROXY_PORT)'} on this server`,
      );
    }
    return { url, answeredBy: own ? 'deploy check' : 'server' };
  } catch (error) {
    if (isBackendError(error)) throw error;
    throw modalFailure(error, 'checking the key proxy URL');
  } finally {
    await own?.close();
  }
}

async function countUserSandboxes(client: ModalClient, app: App): Promise<number> {
  let count = 0;
  for await (const sandbox of client.sandboxes.list({ appId: app.appId, tags: { app: 'dreamcore', role: 'user' } })) count += sandbox ? 1 : 0;
  return count;
}

async function endUserSandboxes(client: ModalClient, app: App): Promise<number> {
  let ended = 0;
  for await (const sandbox of client.sandboxes.list({ appId: app.appId, tags: { app: 'dreamcore', role: 'user' } })) {
    await sandbox.terminate();
    ended++;
  }
  return ended;
}
