/**
 * Server configuration from the environment, validated once at boot with messages that say what to fix.
 * `.env.example` lists every variable.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEFAULT_PUSH_SERVICE_HOSTS, PushServices } from './notifications/push-services.js';

const checkout = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no', '']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

const schema = z
  .object({
    PORT: int(3000, 0),
    HOST: z.string().default('0.0.0.0'),
    DATA_DIR: z.string().default(path.join(checkout, 'data')),
    /** A folder of pre-migrated PGlite databases to copy from (tests: a new database in ~3 s instead of 10–30 s). */
    PGLITE_TEMPLATE_DIR: z.string().optional(),
    PUBLIC_URL: z.string().url().optional(),
    EXECUTION_BACKEND: z.enum(['local', 'modal']).optional(),
    USE_MODAL: bool.optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // Model access
    ANTHROPIC_API_KEY: z.string().optional(),
    ANTHROPIC_BASE_URL: z.string().url().optional(),
    ANTHROPIC_MODEL: z.string().optional(),
    GEMINI_API_KEY: z.string().optional(),
    GOOGLE_API_KEY: z.string().optional(),
    GEMINI_BASE_URL: z.string().url().optional(),
    // Supabase (absent: embedded database and embedded auth)
    SUPABASE_URL: z.string().url().optional(),
    SUPABASE_ANON_KEY: z.string().optional(),
    SUPABASE_SERVICE_ROLE_KEY: z.string().optional(),
    SUPABASE_JWT_SECRET: z.string().optional(),
    // Embedded auth: magic-link mail (smtp:// or smtps:// URL; absent: the link goes to the server log) and Google
    // sign-in (both set: the button appears); GOOGLE_ISSUER_URL is for a stand-in provider in tests
    SMTP_URL: z.string().url().optional(),
    MAIL_FROM: z.string().default('DreamCore <no-reply@dreamcore.local>'),
    GOOGLE_CLIENT_ID: z.string().optional(),
    GOOGLE_CLIENT_SECRET: z.string().optional(),
    GOOGLE_ISSUER_URL: z.string().url().default('https://accounts.google.com'),
    // Web push (VAPID, RFC 8292): the server's key pair (base64url, as `npx web-push generate-vapid-keys` prints it)
    // and a contact for push services (mailto: or https:). Absent in demo mode: a pair is generated and kept in the
    // data directory; absent otherwise: no web push (the in-app notification list still works)
    VAPID_PUBLIC_KEY: z
      .string()
      .regex(/^[A-Za-z0-9_-]{86,88}={0,2}$/, 'must be the base64url public key (65 bytes)')
      .optional(),
    VAPID_PRIVATE_KEY: z
      .string()
      .regex(/^[A-Za-z0-9_-]{42,44}={0,2}$/, 'must be the base64url private key (32 bytes)')
      .optional(),
    VAPID_SUBJECT: z
      .string()
      .regex(/^(mailto:|https:\/\/)/, 'must start with mailto: or https://')
      .default('mailto:admin@dreamcore.local'),
    // The push services subscriptions may name (comma-separated `host`, `*.domain`, optional `:port`): the server
    // POSTs to a subscription's endpoint, so only the browsers' own push services are accepted
    PUSH_SERVICE_HOSTS: z.string().default(DEFAULT_PUSH_SERVICE_HOSTS),
    // A direct PostgreSQL connection (any PostgreSQL 15+, or a Supabase project's connection string): what several
    // instances share. Takes precedence over the embedded database; with SUPABASE_URL, auth stays Supabase's.
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection string')
      .optional(),
    DATABASE_POOL_SIZE: int(10, 1),
    // Several instances: a running job's lease (renewed every third of it); a job whose instance died is failed
    // within JOB_LEASE_MS + a third of it. Job events reach sockets on other instances through the database every
    // JOB_EVENT_FLUSH_MS (default 5 with DATABASE_URL; 1000 on one instance, whose sockets get them from memory).
    JOB_LEASE_MS: int(30_000, 300),
    // Memory for the read cache in front of the backend (warm reads cost no round trip; 0: off). Off with DATABASE_URL:
    // another instance's writes would not reach this one's cache.
    READ_CACHE_MB: int(64, 0),
    JOB_EVENT_FLUSH_MS: z.coerce.number().int().min(1).max(1000).optional(),
    INSTANCE_ID: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .optional(),
    // Signing of preview URLs (derived and persisted in DATA_DIR when absent)
    GAME_SIGNING_SECRET: z.string().min(32).optional(),
    ASSET_BASE_URL: z.string().url().optional(),
    PLAY_DOMAIN: z.string().default('play.dreamcore.gg'),
    // Jobs and limits
    JOB_TIMEOUT_MS: int(10 * 60_000, 1000),
    MAX_JOBS_PER_USER: int(1, 1),
    MAX_JOBS_TOTAL: int(50, 1),
    RATE_LIMIT_PER_MIN: int(60, 1),
    AI_RATE_LIMIT_PER_MIN: int(5, 1),
    WS_MESSAGES_PER_MIN: int(120, 1),
    WS_AI_MESSAGES_PER_MIN: int(8, 1),
    WS_MAX_PAYLOAD_BYTES: int(1024 * 1024, 1024),
    // Frames per socket before parsing: a burst, then a steady rate; beyond it the socket is paused (backpressure)
    WS_FRAME_BURST: int(60, 1),
    WS_FRAMES_PER_SEC: int(20, 1),
    // How long a new socket has to send a valid `init` (ms)
    WS_AUTH_TIMEOUT_MS: int(10_000, 100),
    JSON_BODY_LIMIT: z.string().default('2mb'),
    DAILY_PROJECT_LIMIT: z.coerce.number().int().default(3),
    DAILY_MESSAGE_LIMIT: z.coerce.number().int().default(20),
    // Modal
    MODAL_TOKEN_ID: z.string().optional(),
    MODAL_TOKEN_SECRET: z.string().optional(),
    MODAL_ENVIRONMENT: z.string().optional(),
    MODAL_SERVER_URL: z.string().url().optional(),
    MODAL_APP_NAME: z.string().default('dreamcore'),
    // The key proxy sandboxes reach the model through: listens here on a fixed port, reached at a public URL
    MODAL_KEY_PROXY_URL: z.string().url().optional(),
    MODAL_KEY_PROXY_PORT: int(8787, 1),
    MODAL_KEY_PROXY_HOST: z.string().default('127.0.0.1'),
    MODAL_ALLOW_KEY_IN_SANDBOX: bool.optional(),
    MODAL_SANDBOX_OUTBOUND_CIDRS: z.string().optional(),
    // The game-making agent: the game check after every turn (needs chromium), automatic repair turns after a failed
    // check (0: none), images the agent may make per job
    GAME_CHECK: bool.default(true),
    GAME_CHECK_REPAIR_TURNS: int(1, 0),
    AGENT_IMAGES_PER_JOB: int(4, 0),
    // The Claude CLI the local backend runs (default: the one installed with the project; the benchmarks use a stand-in)
    CLAUDE_PATH: z.string().optional(),
    // Agent confinement in local mode
    AGENT_ISOLATION: z.enum(['auto', 'bubblewrap', 'none']).default('auto'),
    // CPU priority of the local backend's agent and git processes (nice value; the server keeps 0)
    AGENT_NICENESS: z.coerce.number().int().min(0).max(19).default(19),
  })
  .superRefine((env, ctx) => {
    if (env.SUPABASE_URL && !env.SUPABASE_ANON_KEY) {
      ctx.addIssue({ code: 'custom', path: ['SUPABASE_ANON_KEY'], message: 'required when SUPABASE_URL is set' });
    }
    if (env.SUPABASE_URL && !env.SUPABASE_SERVICE_ROLE_KEY) {
      ctx.addIssue({ code: 'custom', path: ['SUPABASE_SERVICE_ROLE_KEY'], message: 'required when SUPABASE_URL is set (jobs write as the service role)' });
    }
    if (Boolean(env.GOOGLE_CLIENT_ID) !== Boolean(env.GOOGLE_CLIENT_SECRET)) {
      ctx.addIssue({ code: 'custom', path: ['GOOGLE_CLIENT_SECRET'], message: 'GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET go together' });
    }
    if (Boolean(env.VAPID_PUBLIC_KEY) !== Boolean(env.VAPID_PRIVATE_KEY)) {
      ctx.addIssue({ code: 'custom', path: ['VAPID_PRIVATE_KEY'], message: 'VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together' });
    }
    try {
      PushServices.parse(env.PUSH_SERVICE_HOSTS);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['PUSH_SERVICE_HOSTS'], message: (error as Error).message });
    }
    const backend = env.EXECUTION_BACKEND ?? (env.USE_MODAL ? 'modal' : 'local');
    if (env.EXECUTION_BACKEND && env.USE_MODAL !== undefined && (env.USE_MODAL ? 'modal' : 'local') !== env.EXECUTION_BACKEND) {
      ctx.addIssue({ code: 'custom', path: ['USE_MODAL'], message: `contradicts EXECUTION_BACKEND=${env.EXECUTION_BACKEND}` });
    }
    if (backend === 'modal' && !env.MODAL_SERVER_URL && (!env.MODAL_TOKEN_ID || !env.MODAL_TOKEN_SECRET)) {
      ctx.addIssue({ code: 'custom', path: ['MODAL_TOKEN_ID'], message: 'EXECUTION_BACKEND=modal needs MODAL_TOKEN_ID and MODAL_TOKEN_SECRET' });
    }
    if (backend === 'modal' && !env.MODAL_KEY_PROXY_URL && !env.MODAL_ALLOW_KEY_IN_SANDBOX) {
      ctx.addIssue({
        code: 'custom',
        path: ['MODAL_KEY_PROXY_URL'],
        message:
          "EXECUTION_BACKEND=modal needs the public https URL at which Modal sandboxes reach this server's key proxy (which listens on MODAL_KEY_PROXY_PORT); " +
          'or MODAL_ALLOW_KEY_IN_SANDBOX=true to put the provider key inside the sandboxes instead',
      });
    }
  });

export type Env = z.infer<typeof schema>;

export interface Config extends Env {
  backend: 'local' | 'modal';
  /** No ANTHROPIC_API_KEY: the real CLI talks to the built-in scripted model. */
  demoMode: boolean;
  geminiKey: string | undefined;
  database: 'pglite' | 'supabase' | 'postgres';
  /** Other instances may share this database (DATABASE_URL): leases, NOTIFY, shared limits and secrets. */
  shared: boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset" (a copied .env.example has many).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}\n(see .env.example)`);
  }
  const e = parsed.data;
  return {
    ...e,
    DATA_DIR: path.resolve(e.DATA_DIR),
    backend: e.EXECUTION_BACKEND ?? (e.USE_MODAL ? 'modal' : 'local'),
    demoMode: !e.ANTHROPIC_API_KEY,
    geminiKey: e.GEMINI_API_KEY ?? e.GOOGLE_API_KEY,
    database: e.DATABASE_URL ? 'postgres' : e.SUPABASE_URL ? 'supabase' : 'pglite',
    shared: e.DATABASE_URL !== undefined,
  };
}
