/**
 * How the Claude Code CLI is invoked, the same way by every backend (see shared notes on the CLI):
 * non-interactive, stream-json with token-level deltas, edits accepted in the working directory, no telemetry,
 * talking only to the base URL it is given (the key proxy), with its state in one directory per project.
 */
import { createError } from '../errors.js';
import type { RunClaudeRequest } from '../contract.js';
import { validateProjectScope } from '../scope.js';
import { AGENT_TOOL_SERVER, STANDING_INSTRUCTIONS } from './instructions.js';
import { SKILL_NAME } from './skills.js';
import { agentToolName, validateTools } from './tool-server.js';
import { validateAfterRun } from './after-run.js';

export const DEFAULT_AGENT_TIMEOUT_MS = 5 * 60_000;
export const MAX_PROMPT_CHARS = 100_000;
const SESSION_ID = /^[0-9a-fA-F-]{8,64}$/;

/** Agent settings every backend takes (each adds its own: isolation, sandbox paths, ...). */
export interface AgentOptions {
  /** The provider key. Stays in the backend's process; the agent gets per-run proxy tokens. */
  anthropicApiKey?: string;
  /** Upstream for model requests (default https://api.anthropic.com; demo mode: the scripted model). */
  anthropicBaseUrl?: string;
  /** Default model name (default: ANTHROPIC_MODEL or "sonnet"). */
  model?: string;
  /** Path to the `claude` binary as the agent's environment sees it. */
  claudePath?: string;
  /** Default bound for a run (default 5 min). */
  timeoutMs?: number;
  /** Retries the CLI makes on 5xx/429/connection errors before giving up (default 3). */
  maxRetries?: number;
  /** Bound on one model request (default: the CLI's own). */
  apiTimeoutMs?: number;
}

export interface ClaudeInvocation {
  args: string[];
  env: Record<string, string>;
}

export interface ClaudeEnvironment {
  /** HOME inside the agent's world. */
  home: string;
  /** CLAUDE_CONFIG_DIR inside the agent's world (sessions live here, so `--resume` works across runs). */
  configDir: string;
  /** The key proxy's URL as the agent reaches it. */
  baseUrl: string;
  /** The per-run proxy token (never the provider key). */
  token: string;
  model: string;
  maxRetries?: number;
  /** Bound on a single model request. */
  apiTimeoutMs?: number;
  /**
   * 'bypassPermissions' lets the agent use every tool (Bash included) and is only for a confined agent
   * (the CLI refuses it as root anyway); 'acceptEdits' allows file edits in the working directory only.
   */
  permissionMode: 'bypassPermissions' | 'acceptEdits';
}

export function validateRunRequest(request: RunClaudeRequest): void {
  if (typeof request.prompt !== 'string' || request.prompt.trim() === '') {
    throw createError('INVALID_ARGUMENT', 'prompt is a non-empty string');
  }
  if (request.prompt.length > MAX_PROMPT_CHARS) {
    throw createError('TOO_LARGE', `prompt longer than ${MAX_PROMPT_CHARS} characters`);
  }
  if (request.sessionId !== undefined && !SESSION_ID.test(request.sessionId)) {
    throw createError('INVALID_ARGUMENT', 'sessionId is a CLI session id (hex and dashes)');
  }
  if (request.timeoutMs !== undefined && (!Number.isFinite(request.timeoutMs) || request.timeoutMs <= 0)) {
    throw createError('INVALID_ARGUMENT', 'timeoutMs is a positive number');
  }
  if (request.model !== undefined && !/^[\w.:@/-]{1,100}$/.test(request.model)) {
    throw createError('INVALID_ARGUMENT', 'model is a model name');
  }
  if (request.skills !== undefined) {
    if (!Array.isArray(request.skills)) throw createError('INVALID_ARGUMENT', 'skills is an array of skill names');
    for (const name of request.skills as unknown[]) {
      // A name that cannot be a skill folder is simply not installed (and never reaches a path).
      if (typeof name !== 'string' || !SKILL_NAME.test(name)) {
        throw createError('NOT_FOUND', `skill ${String(name).slice(0, 100)} is not installed`, { details: { skill: String(name).slice(0, 100) } });
      }
    }
  }
  validateTools(request.tools);
  validateAfterRun(request.after);
}

/** Scope and request checks every backend makes before anything runs. */
export function validateAgentRequest(request: RunClaudeRequest): void {
  validateProjectScope(request.scope);
  validateRunRequest(request);
}

/** How long a run waits for its tools' MCP server before the first model request (the CLI's default is 5 s). */
export const MCP_CONNECT_TIMEOUT_MS = 30_000;

export function claudeInvocation(request: RunClaudeRequest, env: ClaudeEnvironment): ClaudeInvocation {
  const args = [
    '-p',
    request.prompt,
    '--output-format',
    'stream-json',
    '--verbose',
    '--include-partial-messages',
    '--permission-mode',
    env.permissionMode,
    '--model',
    request.model ?? env.model,
    // DreamCore's standing instructions, the same on every backend, on top of the CLI's own system prompt.
    '--append-system-prompt',
    STANDING_INSTRUCTIONS,
  ];
  if (request.sessionId) args.push('--resume', request.sessionId);
  if (request.tools && request.tools.length > 0) {
    // The run's tools, on the key proxy with the run's token; only these MCP servers, and allowed without asking.
    const mcp = {
      mcpServers: { [AGENT_TOOL_SERVER]: { type: 'http', url: `${env.baseUrl.replace(/\/$/, '')}/mcp`, headers: { Authorization: `Bearer ${env.token}` } } },
    };
    args.push('--mcp-config', JSON.stringify(mcp), '--strict-mcp-config', '--allowedTools', request.tools.map(agentToolName).join(','));
  }
  return {
    args,
    env: {
      HOME: env.home,
      CLAUDE_CONFIG_DIR: env.configDir,
      ANTHROPIC_BASE_URL: env.baseUrl,
      ANTHROPIC_API_KEY: env.token,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      CLAUDE_CODE_MAX_RETRIES: String(env.maxRetries ?? 3),
      ...(env.apiTimeoutMs ? { API_TIMEOUT_MS: String(env.apiTimeoutMs) } : {}),
      // In print mode the CLI (2.1.x) connects `--mcp-config` servers in the background and asks the model with
      // whatever tools are ready by then: on a busy machine or a slow link to the key proxy the first request went
      // without the run's tools (the agent silently lost its image tool). Blocking makes it wait for them, up to
      // MCP_CONNECT_TIMEOUT_MS (the CLI's default there is 5 s; its own MCP timeout is 30 s).
      ...(request.tools && request.tools.length > 0 ? { MCP_CONNECTION_NONBLOCKING: 'false', MCP_CONNECT_TIMEOUT_MS: String(MCP_CONNECT_TIMEOUT_MS) } : {}),
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      TERM: 'dumb',
    },
  };
}

/** Size and modification time per path: enough to tell what a run changed. */
export type FileManifest = Map<string, string>;

export function changedPaths(before: FileManifest, after: FileManifest): string[] {
  const changed = new Set<string>();
  for (const [path, sig] of after) if (before.get(path) !== sig) changed.add(path);
  for (const path of before.keys()) if (!after.has(path)) changed.add(path);
  return [...changed].sort();
}
