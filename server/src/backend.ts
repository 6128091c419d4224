/**
 * Picks the execution backend at boot. This is the only place the server names a backend package, and it
 * loads just the one chosen: switching back to local (the rollback plan) is a restart, not a code change.
 */
import { withReadCache, type ExecutionBackend } from '@dreamcore/runtime-core';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export interface ModelAccess {
  /** Upstream for the agent's model requests (the scripted model in demo mode). */
  anthropicBaseUrl?: string;
  anthropicApiKey?: string;
  geminiBaseUrl?: string;
  geminiApiKey?: string;
}

/** MODAL_SANDBOX_OUTBOUND_CIDRS: `open`, or comma-separated CIDRs (the backend checks each). */
function outbound(value: string): string[] | 'open' {
  return value.trim() === 'open'
    ? 'open'
    : value
        .split(',')
        .map((cidr) => cidr.trim())
        .filter(Boolean);
}

export async function createBackend(config: Config, log: Logger, access: ModelAccess): Promise<ExecutionBackend> {
  if (config.backend === 'modal') {
    // Loaded by name at run time: a self-hoster on the local backend never loads the Modal SDK.
    const modalPackage = '@dreamcore/backend-modal';
    const modal = (await import(/* @vite-ignore */ modalPackage)) as {
      createModalBackend(options: Record<string, unknown>): ExecutionBackend;
    };
    return modal.createModalBackend({
      tokenId: config.MODAL_TOKEN_ID,
      tokenSecret: config.MODAL_TOKEN_SECRET,
      serverUrl: config.MODAL_SERVER_URL,
      appName: config.MODAL_APP_NAME,
      environment: config.MODAL_ENVIRONMENT,
      agent: {
        anthropicApiKey: access.anthropicApiKey,
        anthropicBaseUrl: access.anthropicBaseUrl,
        model: config.ANTHROPIC_MODEL,
        proxyPublicUrl: config.MODAL_KEY_PROXY_URL,
        keyProxyPort: config.MODAL_KEY_PROXY_PORT,
        keyProxyHost: config.MODAL_KEY_PROXY_HOST,
        allowKeyInSandbox: config.MODAL_ALLOW_KEY_IN_SANDBOX ?? false,
      },
      ...(config.MODAL_SANDBOX_OUTBOUND_CIDRS ? { sandbox: { outboundCidrAllowlist: outbound(config.MODAL_SANDBOX_OUTBOUND_CIDRS) } } : {}),
      gemini: { apiKey: access.geminiApiKey, baseUrl: access.geminiBaseUrl },
      log: (message: string) => log.info(message),
    });
  }
  const { createLocalBackend } = await import('@dreamcore/backend-local');
  return createLocalBackend({
    dataDir: config.DATA_DIR,
    processNiceness: config.AGENT_NICENESS,
    agent: {
      anthropicApiKey: access.anthropicApiKey,
      anthropicBaseUrl: access.anthropicBaseUrl,
      model: config.ANTHROPIC_MODEL,
      ...(config.CLAUDE_PATH ? { claudePath: config.CLAUDE_PATH } : {}),
      isolation: config.AGENT_ISOLATION,
      onIsolation: (isolation) =>
        isolation.kind === 'bubblewrap'
          ? log.info('agent isolation: bubblewrap (the agent sees only its project)')
          : log.warn(`agent isolation: NONE (${isolation.reason}); the agent runs with this server's file access`),
    },
    gemini: { apiKey: access.geminiApiKey, baseUrl: access.geminiBaseUrl },
  });
}

/**
 * The backend as the server uses it: behind runtime-core's read cache (never stale: every write goes through it, and
 * an agent run drops its project), unless other processes write the same projects. With DATABASE_URL several
 * instances share the users, and a per-process cache would miss the others' writes: a NOTIFY would reach this one
 * only after the other's write had returned, so a read in that window could be stale. The cache is off then (reads
 * cost their round trip), as with READ_CACHE_MB=0.
 */
export function withServerReadCache(config: Pick<Config, 'shared' | 'READ_CACHE_MB'>, backend: ExecutionBackend): ExecutionBackend {
  if (config.shared || config.READ_CACHE_MB === 0) return backend;
  return withReadCache(backend, { maxBytes: config.READ_CACHE_MB * 1024 * 1024 });
}
