/**
 * Configuration of the Modal backend: options passed in code win over the environment, the environment over the
 * defaults. Everything is validated once, when the backend is created, so a bad deployment fails at boot.
 *
 * Environment (all optional except the token pair on real Modal):
 *   MODAL_TOKEN_ID, MODAL_TOKEN_SECRET   Modal credentials
 *   MODAL_ENVIRONMENT                    Modal environment name
 *   MODAL_SERVER_URL                     control-plane URL (an emulator in tests; default Modal's own)
 *   DREAMCORE_MODAL_APP                  app the sandboxes belong to (default "dreamcore-runtime")
 *   DREAMCORE_MODAL_CPU                  CPU cores per user sandbox (default 1)
 *   DREAMCORE_MODAL_MEMORY_MIB           memory per user sandbox (default 2048, as V2)
 *   DREAMCORE_MODAL_SANDBOX_TIMEOUT_MS   longest life of a user sandbox (default 5 h, as V2)
 *   DREAMCORE_MODAL_IDLE_TIMEOUT_MS      idle time after which a user sandbox ends (default 20 min, as V2)
 *   DREAMCORE_MODAL_PROXY_URL            URL at which sandboxes reach this process's key proxy (see agent.ts)
 *   DREAMCORE_MODAL_SKILLS_VOLUME        the global skills volume (default "dreamcore-skills")
 */
import { createError, DEFAULT_MAX_FILE_BYTES, type AgentOptions, type KeyProxy } from '@dreamcore/runtime-core';

/** The Claude Code CLI version installed in the image; the same as @dreamcore/backend-local's dependency. */
export const CLAUDE_CODE_VERSION = '2.1.197';
export const DEFAULT_BASE_IMAGE = 'node:20-bookworm-slim';
/** Where the sandbox image puts the CLI (`npm install -g` links it here). */
export const DEFAULT_CLAUDE_PATH = '/usr/local/bin/claude';

/** Where things are inside a user sandbox. */
export const MOUNT = {
  /** The user's volume: `projects/{projectId}/…`, `assets/…`, plus the backend's own `.agent/` and `.tmp/`. */
  volume: '/vol',
  /** The global skills volume, read-only: `<skill>/SKILL.md`. */
  skills: '/skills',
} as const;

/**
 * The sandbox image, built by Modal from these layers (the emulator ignores images: it runs the host's Debian).
 * git for versions; procps for pkill (cancel); util-linux for setpriv (the agent runs as its own uid); chromium and
 * fonts for video capture; the CLI pinned to the version this repository is tested with.
 */
export function defaultImageCommands(claudeVersion = CLAUDE_CODE_VERSION): string[] {
  return [
    'RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates procps util-linux ' +
      'chromium fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji && rm -rf /var/lib/apt/lists/*',
    `RUN npm install -g @anthropic-ai/claude-code@${claudeVersion} && claude --version`,
  ];
}

export interface ModalSandboxOptions {
  /** CPU cores reserved per user sandbox (default 1). */
  cpu?: number;
  /** Memory per user sandbox in MiB (default 2048). */
  memoryMiB?: number;
  /** Longest life of a user sandbox (default 5 h). A multiple of 1000. */
  timeoutMs?: number;
  /** A user sandbox with nothing running ends after this long (default 20 min). A multiple of 1000. */
  idleTimeoutMs?: number;
  /** Base image tag (default node:20-bookworm-slim). */
  baseImage?: string;
  /** Dockerfile commands layered on the base image (default `defaultImageCommands()`). */
  imageCommands?: string[];
  /** Restrict the sandbox's outbound network to these CIDRs (e.g. the key proxy's address). */
  outboundCidrAllowlist?: string[];
}

/** `claudePath` is the CLI inside the sandbox (default /usr/local/bin/claude, where the image installs it). */
export interface ModalAgentOptions extends AgentOptions {
  /**
   * The URL at which sandboxes reach the key proxy (a public HTTPS address forwarding to `keyProxy` or to the proxy
   * this backend starts on `proxyListenHost`). Needed on real Modal, where this machine's loopback is unreachable.
   */
  proxyPublicUrl?: string;
  /** An already running key proxy (e.g. the server's, on a fixed port behind TLS); default: one started here. */
  keyProxy?: KeyProxy;
  /** Interface the backend's own key proxy listens on (default 127.0.0.1). */
  proxyListenHost?: string;
  /**
   * 'uid' (default): the CLI runs as an unprivileged uid of its own that owns only its project during the run.
   * 'none': as root with IS_SANDBOX=1 (other projects of the same user are then writable by the agent).
   */
  isolation?: 'uid' | 'none';
}

export interface ModalGeminiOptions {
  apiKey?: string;
  baseUrl?: string;
  model?: string;
  timeoutMs?: number;
}

export interface ModalVideoOptions {
  /** Declare renderVideo supported (default false: the render still runs in this process, not in a render sandbox). */
  enabled?: boolean;
  browserExecutable?: string;
}

/** How long the backend waits for Modal before it gives up with NETWORK_ERROR: nothing waits forever. */
export interface ModalDeadlines {
  /** One call that should answer at once (a look-up, a liveness check, terminate). Default 30 s. */
  rpcMs?: number;
  /** A file or git command in the user's sandbox, from start to exit. Default 120 s. */
  commandMs?: number;
  /** Getting a user's sandbox ready: volume, image and creation (Modal's own cold start is 2–10 s). Default 180 s. */
  sandboxStartMs?: number;
}

/** The command that moves users' v1 volumes to v2 (the backend refuses v1 volumes and names it). */
export const MIGRATE_V1_COMMAND = 'npm run modal:migrate-v1 --';

export interface ModalBackendOptions {
  tokenId?: string;
  tokenSecret?: string;
  environment?: string;
  /** Control-plane URL; default MODAL_SERVER_URL, else Modal's own. */
  serverUrl?: string;
  appName?: string;
  /** Volume per user: `${volumePrefix}${userId}` (default "dreamcore-user-"). Sandboxes are named the same. */
  volumePrefix?: string;
  skillsVolume?: string;
  sandbox?: ModalSandboxOptions;
  /** Largest file the files capability reads or writes (default 25 MiB). */
  maxFileBytes?: number;
  agent?: ModalAgentOptions;
  gemini?: ModalGeminiOptions;
  video?: ModalVideoOptions;
  /**
   * Terminate the user sandboxes this backend used when it closes. Default false: several server processes share a
   * user's sandbox (they attach to it by name), so one closing must not end it under the others; a deploy that needs
   * fresh sandboxes terminates them itself (`dreamcore-modal deploy --restart-sandboxes`).
   */
  terminateOnClose?: boolean;
  deadlines?: ModalDeadlines;
  /** Operational messages (the Secret fallback warning, sandbox replacement); default console.warn. */
  log?: (message: string) => void;
  /** The SDK's own log level (default "error": the emulator's loopback TLS notice is not an error). */
  sdkLogLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface ResolvedModalConfig {
  tokenId: string;
  tokenSecret: string;
  environment: string | undefined;
  serverUrl: string;
  appName: string;
  volumePrefix: string;
  skillsVolume: string;
  sandbox: Required<Omit<ModalSandboxOptions, 'outboundCidrAllowlist'>> & { outboundCidrAllowlist?: string[] };
  maxFileBytes: number;
  agent: ModalAgentOptions & { claudePath: string; isolation: 'uid' | 'none'; model: string };
  gemini: ModalGeminiOptions;
  video: ModalVideoOptions;
  terminateOnClose: boolean;
  deadlines: Required<ModalDeadlines>;
  log: (message: string) => void;
  sdkLogLevel: 'debug' | 'info' | 'warn' | 'error';
  /** The control plane is on this machine (an emulator): sandboxes share its loopback. */
  serverIsLocal: boolean;
}

export const MODAL_DEFAULT_SERVER_URL = 'https://api.modal.com:443';

function num(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw createError('NOT_CONFIGURED', `${name} must be a positive number`, { details: { name } });
  }
  return value;
}

function positive(name: string, value: number, multipleOf1000 = false): number {
  if (!Number.isFinite(value) || value <= 0 || (multipleOf1000 && value % 1000 !== 0)) {
    throw createError('NOT_CONFIGURED', `${name} must be a positive number${multipleOf1000 ? ' of whole seconds (ms, multiple of 1000)' : ''}`, {
      details: { name, value },
    });
  }
  return value;
}

export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Options over environment over defaults; throws NOT_CONFIGURED for anything unusable. */
export function resolveModalConfig(options: ModalBackendOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedModalConfig {
  const tokenId = options.tokenId ?? env.MODAL_TOKEN_ID ?? '';
  const tokenSecret = options.tokenSecret ?? env.MODAL_TOKEN_SECRET ?? '';
  if (!tokenId || !tokenSecret) {
    throw createError('NOT_CONFIGURED', 'the Modal backend needs MODAL_TOKEN_ID and MODAL_TOKEN_SECRET (or tokenId/tokenSecret)');
  }
  const serverUrl = options.serverUrl ?? (env.MODAL_SERVER_URL || MODAL_DEFAULT_SERVER_URL);
  try {
    new URL(serverUrl);
  } catch {
    throw createError('NOT_CONFIGURED', 'the Modal server URL is not a URL', { details: { serverUrl } });
  }
  const appName = options.appName ?? (env.DREAMCORE_MODAL_APP || 'dreamcore-runtime');
  const volumePrefix = options.volumePrefix ?? 'dreamcore-user-';
  const skillsVolume = options.skillsVolume ?? (env.DREAMCORE_MODAL_SKILLS_VOLUME || 'dreamcore-skills');
  for (const [field, value] of [
    ['appName', appName],
    ['skillsVolume', skillsVolume],
    ['volumePrefix', `${volumePrefix}x`],
  ] as const) {
    if (!NAME.test(value)) throw createError('NOT_CONFIGURED', `${field} is not a valid Modal object name`, { details: { field, value } });
  }
  // 36 characters of UUID must still fit Modal's 64-character names.
  if (volumePrefix.length > 28) throw createError('NOT_CONFIGURED', 'volumePrefix is longer than 28 characters');
  const sb = options.sandbox ?? {};
  const agent = options.agent ?? {};
  const proxyPublicUrl = agent.proxyPublicUrl ?? (env.DREAMCORE_MODAL_PROXY_URL || undefined);
  if (proxyPublicUrl !== undefined && !/^https?:\/\//.test(proxyPublicUrl)) {
    throw createError('NOT_CONFIGURED', 'the key proxy URL must be an http(s) URL', { details: { proxyPublicUrl } });
  }
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  return {
    tokenId,
    tokenSecret,
    environment: options.environment ?? (env.MODAL_ENVIRONMENT || undefined),
    serverUrl,
    appName,
    volumePrefix,
    skillsVolume,
    sandbox: {
      cpu: positive('cpu', sb.cpu ?? num(env, 'DREAMCORE_MODAL_CPU') ?? 1),
      memoryMiB: positive('memoryMiB', sb.memoryMiB ?? num(env, 'DREAMCORE_MODAL_MEMORY_MIB') ?? 2048),
      timeoutMs: positive('timeoutMs', sb.timeoutMs ?? num(env, 'DREAMCORE_MODAL_SANDBOX_TIMEOUT_MS') ?? 5 * 3600_000, true),
      idleTimeoutMs: positive('idleTimeoutMs', sb.idleTimeoutMs ?? num(env, 'DREAMCORE_MODAL_IDLE_TIMEOUT_MS') ?? 20 * 60_000, true),
      baseImage: sb.baseImage ?? DEFAULT_BASE_IMAGE,
      imageCommands: sb.imageCommands ?? defaultImageCommands(),
      ...(sb.outboundCidrAllowlist ? { outboundCidrAllowlist: sb.outboundCidrAllowlist } : {}),
    },
    maxFileBytes: positive('maxFileBytes', maxFileBytes),
    agent: {
      ...agent,
      proxyPublicUrl,
      claudePath: agent.claudePath ?? DEFAULT_CLAUDE_PATH,
      isolation: agent.isolation ?? 'uid',
      model: agent.model ?? env.ANTHROPIC_MODEL ?? 'sonnet',
    },
    gemini: options.gemini ?? {},
    video: options.video ?? {},
    terminateOnClose: options.terminateOnClose ?? false,
    deadlines: {
      rpcMs: positive('deadlines.rpcMs', options.deadlines?.rpcMs ?? 30_000),
      commandMs: positive('deadlines.commandMs', options.deadlines?.commandMs ?? 120_000),
      sandboxStartMs: positive('deadlines.sandboxStartMs', options.deadlines?.sandboxStartMs ?? 180_000),
    },
    log: options.log ?? ((message) => console.warn(`[dreamcore/modal] ${message}`)),
    sdkLogLevel: options.sdkLogLevel ?? 'error',
    serverIsLocal: isLoopbackUrl(serverUrl),
  };
}
