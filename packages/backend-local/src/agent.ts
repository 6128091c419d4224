/**
 * runClaude on this machine: the real `claude` binary as a child process in the project folder, confined with
 * bubblewrap where available, talking to the model only through the backend's key proxy with a per-run token.
 */
import { existsSync, promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  afterRunWith,
  changedPaths,
  claudeInvocation,
  createError,
  DEFAULT_AGENT_TIMEOUT_MS,
  RunChannel,
  SKILLS_DIR,
  startKeyProxy,
  StreamJsonTranslator,
  validateProjectScope,
  validateRunRequest,
  startRun,
  validateAgentRequest,
  type AgentOptions,
  type AgentRun,
  type FileManifest,
  type FilesCapability,
  type GitCapability,
  type KeyProxy,
  type RunClaudeRequest,
} from '@dreamcore/runtime-core';
import { bubblewrapArgs, detectIsolation, SANDBOX, sandboxPid, type Isolation } from './confine.js';
import { scopeRoot } from './files.js';
import { ProcessLauncher, type LaunchedProcess } from './launcher.js';

/** `claudePath` defaults to the binary of the @anthropic-ai/claude-code dependency. */
export interface LocalAgentOptions extends AgentOptions {
  /** Folder of skills (`<name>/SKILL.md`); default: the skills shipped with runtime-core (SKILLS_DIR). */
  skillsDir?: string;
  /** 'auto' uses bubblewrap when it works here. */
  isolation?: 'auto' | 'bubblewrap' | 'none';
  /** Told once, at the first run, what isolation is in force (default: console.warn when unconfined). */
  onIsolation?: (isolation: Isolation) => void;
}

/** The child's descriptor on which bubblewrap reports the sandbox (--info-fd). */
const INFO_FD = 3;

export function defaultClaudePath(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@anthropic-ai/claude-code/package.json');
  return path.join(path.dirname(pkg), 'bin', 'claude.exe');
}

async function manifest(root: string): Promise<FileManifest> {
  const out: FileManifest = new Map();
  async function walk(dir: string, prefix: string): Promise<void> {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.name === '.git') continue;
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      const abs = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(abs, rel);
      else {
        const stats = await fs.lstat(abs).catch(() => null);
        if (stats) out.set(rel, `${stats.size}:${stats.mtimeMs}`);
      }
    }
  }
  await walk(root, '');
  return out;
}

export interface LocalAgent {
  runClaude(request: RunClaudeRequest): AgentRun;
  isolation(): Promise<Isolation>;
  close(): Promise<void>;
}

export function createLocalAgent(
  dataDir: string,
  options: LocalAgentOptions = {},
  launcher = new ProcessLauncher(),
  capabilities?: { git: GitCapability; files: FilesCapability },
): LocalAgent {
  const claudePath = options.claudePath ?? defaultClaudePath();
  const skillsDir = options.skillsDir ?? SKILLS_DIR;
  const model = options.model ?? process.env.ANTHROPIC_MODEL ?? 'sonnet';
  let isolation: Promise<Isolation> | null = null;
  let proxy: Promise<KeyProxy> | null = null;
  const live = new Set<{ readonly pid?: number }>(); // running CLIs, killed on close

  const getIsolation = () => {
    isolation ??= detectIsolation(options.isolation).then((iso) => {
      (
        options.onIsolation ??
        ((i: Isolation) => i.kind === 'none' && console.warn(`[dreamcore] agent isolation: NONE (${i.reason}); the agent can read this machine's files`))
      )(iso);
      return iso;
    });
    return isolation;
  };

  const getProxy = () => {
    if (!options.anthropicApiKey && !options.anthropicBaseUrl) {
      throw createError('NOT_CONFIGURED', 'no model configured: set an Anthropic API key or a model base URL (demo mode)');
    }
    proxy ??= startKeyProxy({
      upstream: options.anthropicBaseUrl ?? 'https://api.anthropic.com',
      // Demo mode's scripted model needs no key; a placeholder keeps the upstream request well-formed.
      apiKey: options.anthropicApiKey ?? 'demo-mode-no-key',
    });
    return proxy;
  };

  async function skillsFor(names: string[] | undefined): Promise<{ name: string; dir: string }[]> {
    const available = (await fs.readdir(skillsDir, { withFileTypes: true }).catch(() => []))
      .filter((e) => e.isDirectory() && existsSync(path.join(skillsDir, e.name, 'SKILL.md')))
      .map((e) => e.name);
    const chosen = names === undefined ? available : names;
    for (const name of chosen) {
      if (!available.includes(name)) throw createError('NOT_FOUND', `skill ${name} is not installed`, { details: { skill: name } });
    }
    return chosen.map((name) => ({ name, dir: path.join(skillsDir, name) }));
  }

  async function execute(request: RunClaudeRequest, run: RunChannel): Promise<void> {
    const scope = validateProjectScope(request.scope);
    validateRunRequest(request);
    const projectDir = scopeRoot(dataDir, scope);
    if (!existsSync(projectDir)) throw createError('NOT_FOUND', 'project not found', { details: { ...scope } });
    if (!existsSync(claudePath)) {
      throw createError('CLI_SPAWN_ERROR', `the Claude CLI was not found at ${claudePath}`, { details: { claudePath } });
    }
    const stateDir = path.join(dataDir, 'users', scope.userId, '.agent', scope.projectId);
    await fs.mkdir(stateDir, { recursive: true });
    const skills = await skillsFor(request.skills);
    const [iso, keyProxy] = await Promise.all([getIsolation(), getProxy()]);
    const timeoutMs = request.timeoutMs ?? options.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
    const token = keyProxy.issue(timeoutMs + 30_000, { tools: request.tools });
    const before = await manifest(projectDir);

    const confined = iso.kind === 'bubblewrap';
    const { args, env } = claudeInvocation(request, {
      home: confined ? SANDBOX.home : stateDir,
      configDir: confined ? SANDBOX.configDir : stateDir,
      baseUrl: keyProxy.url,
      token,
      model,
      permissionMode: confined ? 'bypassPermissions' : 'acceptEdits',
      maxRetries: options.maxRetries,
      apiTimeoutMs: options.apiTimeoutMs,
    });
    if (!confined) {
      // Unconfined fallback: this run's skills (and no earlier run's) are linked into the state dir so the CLI finds them.
      await fs.rm(path.join(stateDir, 'skills'), { recursive: true, force: true });
      await fs.mkdir(path.join(stateDir, 'skills'), { recursive: true });
      for (const skill of skills) await fs.symlink(skill.dir, path.join(stateDir, 'skills', skill.name)).catch(() => undefined);
    }
    const [file, argv] = confined
      ? [iso.bwrap, bubblewrapArgs({ projectDir, stateDir, claudeBinary: claudePath, skills, env, infoFd: INFO_FD }, [SANDBOX.claude, ...args])]
      : [claudePath, args];
    // A cancel during set-up starts nothing.
    if (request.signal?.aborted) throw createError('CANCELLED', 'the run was cancelled before the agent started');

    const translator = new StreamJsonTranslator(run, {
      filesChanged: async () => changedPaths(before, await manifest(projectDir)),
      // In-process: the commit and the reads cost no round trip here.
      after: async (resultLine) => {
        if (!request.after) return undefined;
        if (!capabilities) throw createError('UNSUPPORTED', "this agent was made without the backend's git and files (after)");
        return afterRunWith(capabilities, scope, request.after, resultLine);
      },
    });
    let ending: 'timeout' | 'cancelled' | undefined;
    let child: LaunchedProcess;
    try {
      child = await launcher.spawn(file, argv, {
        cwd: projectDir,
        env: confined ? {} : env,
        detached: true, // own process group: a cancel takes the whole tree
        extraFd: confined, // bubblewrap's report of the sandbox's pid
      });
    } catch (error) {
      await translator.finish({ exitCode: null, reason: 'spawn-failed', message: (error as Error).message });
      return;
    }
    live.add(child);

    const killTree = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        /* already gone */
      }
    };
    const sandbox = confined && child.extra ? sandboxPid(child.extra) : Promise.resolve(null);
    // The sandbox runs in a session of its own (--new-session): lower its priority like the CLI's own.
    void sandbox.then((pid) => pid && launcher.lowerPriority(pid));
    const stop = (why: 'timeout' | 'cancelled') => {
      if (ending) return;
      ending = why;
      if (confined) {
        // Wait for the sandbox's pid 1 (killing bubblewrap before it reports could orphan the sandbox), then end
        // the whole pid namespace at once. If bubblewrap never reports, its own process group goes after 2 s.
        void sandbox.then((pid) => {
          try {
            if (pid) process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
          killTree('SIGKILL');
        });
        setTimeout(() => killTree('SIGKILL'), 2_000).unref();
        return;
      }
      killTree('SIGTERM');
      setTimeout(() => killTree('SIGKILL'), 1_000).unref();
    };
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    const onAbort = () => stop('cancelled');
    if (request.signal?.aborted) onAbort();
    request.signal?.addEventListener('abort', onAbort, { once: true });

    try {
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (line) => translator.line(line));
      child.stderr.on('data', (chunk: Buffer) => translator.stderr(chunk.toString('utf8')));
      const [exit] = await Promise.all([child.exit, new Promise((resolve) => lines.once('close', resolve))]);
      // A confined run cannot leave anything behind (its pid namespace died with it); an unconfined one might.
      killTree('SIGKILL');
      await translator.finish({ exitCode: exit.exitCode, signal: exit.signal, reason: ending });
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      keyProxy.revoke(token); // the token dies with the run
      live.delete(child);
    }
  }

  return {
    runClaude: (request) => startRun(request, validateAgentRequest, execute),
    isolation: getIsolation,
    async close() {
      for (const child of live) {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (proxy) await (await proxy).close();
    },
  };
}
