/**
 * Configuration of the Modal backend: options passed in code win over the environment, the environment over the
 * defaults. Everything is validated once, when the backend is created, so a bad deployment fails at boot.
 *
 * Environment (all optional except the token pair on real Modal):
 *   MODAL_TOKEN_ID, MODAL_TOKEN_SECRET   Modal credentials
 *   MODAL_ENVIRONMENT                    Modal environment name
 *   MODAL_SERVER_URL                     control-plane URL (an emulator in tests; default Modal's own)
 *   MODAL_APP_NAME                       app the sandboxes and images belong to (default "dreamcore", as the server)
 *   DREAMCORE_MODAL_CPU                  CPU cores per user sandbox (default 1)
 *   DREAMCORE_MODAL_MEMORY_MIB           memory per user sandbox (default 2048, as V2)
 *   DREAMCORE_MODAL_SANDBOX_TIMEOUT_MS   longest life of a user sandbox (default 5 h, as V2)
 *   DREAMCORE_MODAL_IDLE_TIMEOUT_MS      idle time after which a user sandbox ends (default 20 min, as V2)
 *   MODAL_KEY_PROXY_URL                  public URL at which sandboxes reach the key proxy (TLS, your ingress/tunnel)
 *   MODAL_KEY_PROXY_PORT, _HOST          where this process's key proxy listens (fixed port; host default 127.0.0.1)
 *   MODAL_ALLOW_KEY_IN_SANDBOX=true      without a proxy URL: hand the provider key to runs as a Modal Secret
 *   MODAL_SANDBOX_OUTBOUND_CIDRS         comma-separated CIDRs user sandboxes may reach (default: the proxy's
 *                                        addresses in proxy mode; `open` for no restriction)
 *   DREAMCORE_MODAL_SKILLS_VOLUME        the global skills volume (default "dreamcore-skills")
 */
import { createRequire } from 'node:module';
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

/** The version of @dreamcore/media this package renders with; the render image installs the same one. */
export const MEDIA_VERSION = (createRequire(import.meta.url)('@dreamcore/media/package.json') as { version: string }).version;
/** Where the render image keeps the bundled promo composition (`dreamcore-render --prepare`). */
export const RENDER_CACHE_DIR = '/opt/dreamcore/render-cache';

const apt = (packages: string) => `RUN apt-get update && apt-get install -y --no-install-recommends ${packages} && rm -rf /var/lib/apt/lists/*`;

/**
 * The user sandbox image, built by `dreamcore-modal deploy` (never on a user's request): git for versions; procps for
 * pkill (cancel); util-linux for setpriv (the agent runs as its own uid); the CLI pinned to the version this
 * repository is tested with. The emulator builds it from the same recipe (see emulator/images.ts).
 */
export function defaultImageCommands(claudeVersion = CLAUDE_CODE_VERSION): string[] {
  return [apt('git ca-certificates procps util-linux'), `RUN npm install -g @anthropic-ai/claude-code@${claudeVersion} && claude --version`];
}

/**
 * The render image: chromium's headless shell (all a render needs, and what @dreamcore/media picks first: lighter than
 * full chromium, on disk and in CPU), the fonts local rendering uses (CJK, emoji), and @dreamcore/media (the renderer
 * the local backend runs too) with its promo composition bundled ahead of time.
 */
export function defaultRenderImageCommands(mediaVersion = MEDIA_VERSION): string[] {
  return [
    apt('chromium-headless-shell ca-certificates fonts-noto-cjk fonts-noto-color-emoji'),
    `RUN npm install -g @dreamcore/media@${mediaVersion} && dreamcore-render --prepare --cache-dir ${RENDER_CACHE_DIR}`,
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
  /**
   * The CIDRs a user sandbox may reach (MODAL_SANDBOX_OUTBOUND_CIDRS). Default in proxy mode: the key proxy's own
   * addresses (resolved when a sandbox is made), the only thing the agent needs; 'open' for no restriction.
   */
  outboundCidrAllowlist?: string[] | 'open';
}

/**
 * `claudePath` is the CLI inside the sandbox (default /usr/local/bin/claude, where the image installs it).
 *
 * The provider key stays in this process: runs get a per-run token for a key proxy that listens here on a fixed port
 * (`keyProxyPort`, or a running `keyProxy`) and that sandboxes reach only at `proxyPublicUrl`, a public address that
 * forwards to it (your ingress or a tunnel, with TLS): Modal's sandboxes cannot reach this machine's loopback. Without
 * a public URL the key can only travel into the sandbox as a Modal Secret, and that is refused unless
 * `allowKeyInSandbox` says so.
 */
export interface ModalAgentOptions extends AgentOptions {
  /** The URL at which sandboxes reach the key proxy (MODAL_KEY_PROXY_URL). https on real Modal; never loopback. */
  proxyPublicUrl?: string;
  /** An already running key proxy (e.g. the server's own); else one is started on `keyProxyPort`. */
  keyProxy?: KeyProxy;
  /** The fixed port this backend's key proxy listens on (MODAL_KEY_PROXY_PORT); your ingress forwards to it. */
  keyProxyPort?: number;
  /** Interface the key proxy listens on (MODAL_KEY_PROXY_HOST, default 127.0.0.1). */
  keyProxyHost?: string;
  /**
   * Without a proxy URL, put the provider key into each run's environment as a Modal Secret
   * (MODAL_ALLOW_KEY_IN_SANDBOX=true). A prompt that makes the agent print its environment then reveals the key.
   */
  allowKeyInSandbox?: boolean;
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

/** Promo videos render in a sandbox of their own (one per render, torn down after), never in this process. */
export interface ModalVideoOptions {
  /** Offer renderVideo (default true). */
  enabled?: boolean;
  /** CPU cores and memory of a render sandbox (default 2 and 4096 MiB: chromium plus the encoder). */
  cpu?: number;
  memoryMiB?: number;
  /** Longest a render may take, sandbox start included (default 10 min). A multiple of 1000. */
  timeoutMs?: number;
  /** Dockerfile commands of the render image (default `defaultRenderImageCommands()`), on `sandbox.baseImage`. */
  imageCommands?: string[];
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
  sandbox: Required<Omit<ModalSandboxOptions, 'outboundCidrAllowlist'>> & { outboundCidrAllowlist?: string[] | 'open' };
  maxFileBytes: number;
  agent: ModalAgentOptions & { claudePath: string; isolation: 'uid' | 'none'; model: string; keyProxyHost: string };
  /** 'proxy': runs reach the model through the key proxy at `agent.proxyPublicUrl`; 'secret': the key is in the run. */
  keyMode: 'proxy' | 'secret';
  gemini: ModalGeminiOptions;
  video: Required<ModalVideoOptions>;
  terminateOnClose: boolean;
  deadlines: Required<ModalDeadlines>;
  log: (message: string) => void;
  sdkLogLevel: 'debug' | 'info' | 'warn' | 'error';
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
  const appName = options.appName ?? (env.MODAL_APP_NAME || 'dreamcore');
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
  const access = resolveKeyAccess(agent, env, serverUrl);
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
      ...outboundCidrs(sb.outboundCidrAllowlist, env),
    },
    maxFileBytes: positive('maxFileBytes', maxFileBytes),
    agent: {
      ...agent,
      ...access.agent,
      claudePath: agent.claudePath ?? DEFAULT_CLAUDE_PATH,
      isolation: agent.isolation ?? 'uid',
      model: agent.model ?? env.ANTHROPIC_MODEL ?? 'sonnet',
    },
    gemini: options.gemini ?? {},
    video: {
      enabled: options.video?.enabled ?? true,
      cpu: positive('video.cpu', options.video?.cpu ?? 2),
      memoryMiB: positive('video.memoryMiB', options.video?.memoryMiB ?? 4096),
      timeoutMs: positive('video.timeoutMs', options.video?.timeoutMs ?? 600_000, true),
      imageCommands: options.video?.imageCommands ?? defaultRenderImageCommands(),
    },
    terminateOnClose: options.terminateOnClose ?? false,
    deadlines: {
      rpcMs: positive('deadlines.rpcMs', options.deadlines?.rpcMs ?? 30_000),
      commandMs: positive('deadlines.commandMs', options.deadlines?.commandMs ?? 120_000),
      sandboxStartMs: positive('deadlines.sandboxStartMs', options.deadlines?.sandboxStartMs ?? 180_000),
    },
    log: options.log ?? ((message) => console.warn(`[dreamcore/modal] ${message}`)),
    sdkLogLevel: options.sdkLogLevel ?? 'error',
    keyMode: access.keyMode,
  };
}

/** How runs reach the model; refuses a configuration that would put the key in a sandbox unless allowed. */
function resolveKeyAccess(
  agent: ModalAgentOptions,
  env: NodeJS.ProcessEnv,
  serverUrl: string,
): { agent: Pick<ModalAgentOptions, 'proxyPublicUrl' | 'keyProxyPort' | 'allowKeyInSandbox'> & { keyProxyHost: string }; keyMode: 'proxy' | 'secret' } {
  const proxyPublicUrl = agent.proxyPublicUrl ?? (env.MODAL_KEY_PROXY_URL || undefined);
  const rawPort = agent.keyProxyPort ?? num(env, 'MODAL_KEY_PROXY_PORT');
  const keyProxyPort =
    rawPort === undefined
      ? undefined
      : Number.isInteger(rawPort) && rawPort > 0 && rawPort < 65536
        ? rawPort
        : notConfigured('MODAL_KEY_PROXY_PORT must be a TCP port');
  const keyProxyHost = agent.keyProxyHost ?? (env.MODAL_KEY_PROXY_HOST || '127.0.0.1');
  const allowKeyInSandbox = agent.allowKeyInSandbox ?? /^(true|1|yes)$/i.test(env.MODAL_ALLOW_KEY_IN_SANDBOX ?? '');
  const usesModel = Boolean(agent.anthropicApiKey || agent.anthropicBaseUrl || agent.keyProxy);
  if (proxyPublicUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(proxyPublicUrl);
    } catch {
      return notConfigured(`MODAL_KEY_PROXY_URL is not a URL: ${proxyPublicUrl}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') notConfigured('MODAL_KEY_PROXY_URL must be an https URL');
    if (isLoopbackUrl(proxyPublicUrl)) {
      notConfigured(
        `MODAL_KEY_PROXY_URL is a loopback address (${url.host}): Modal's sandboxes cannot reach this machine's loopback; give the public URL of your ingress or tunnel`,
      );
    }
    // Plain http only to a control plane on this machine (the emulator); on Modal the run's token would cross the internet in clear.
    if (url.protocol === 'http:' && !isLoopbackUrl(serverUrl)) notConfigured('MODAL_KEY_PROXY_URL must be https on Modal (the run tokens travel in it)');
    if (keyProxyPort === undefined && !agent.keyProxy)
      notConfigured('MODAL_KEY_PROXY_URL needs MODAL_KEY_PROXY_PORT: the fixed port the key proxy listens on, which it forwards to');
    return { agent: { proxyPublicUrl, keyProxyPort, keyProxyHost, allowKeyInSandbox }, keyMode: 'proxy' };
  }
  if (usesModel && !allowKeyInSandbox) {
    notConfigured(
      'the Modal backend needs MODAL_KEY_PROXY_URL (the public https URL at which sandboxes reach the key proxy on MODAL_KEY_PROXY_PORT); ' +
        'without one the provider key would have to go into every sandbox, which is refused unless MODAL_ALLOW_KEY_IN_SANDBOX=true',
    );
  }
  return { agent: { keyProxyPort, keyProxyHost, allowKeyInSandbox }, keyMode: 'secret' };
}

function outboundCidrs(option: string[] | 'open' | undefined, env: NodeJS.ProcessEnv): { outboundCidrAllowlist?: string[] | 'open' } {
  const raw = option ?? (env.MODAL_SANDBOX_OUTBOUND_CIDRS?.trim() ? env.MODAL_SANDBOX_OUTBOUND_CIDRS.trim() : undefined);
  if (raw === undefined) return {};
  if (raw === 'open') return { outboundCidrAllowlist: 'open' };
  const list =
    typeof raw === 'string'
      ? raw
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean)
      : raw;
  for (const cidr of list) {
    if (!/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(cidr) && !/^[0-9a-f:]+(\/\d{1,3})?$/i.test(cidr))
      notConfigured(`not a CIDR in the sandbox outbound allowlist: ${cidr}`);
  }
  return { outboundCidrAllowlist: list };
}

function notConfigured(message: string): never {
  throw createError('NOT_CONFIGURED', message);
}
