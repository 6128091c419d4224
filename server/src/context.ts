/**
 * Everything a route or a socket handler needs, built once at boot (main.ts) and passed down.
 */
import type { ExecutionBackend } from '@dreamcore/runtime-core';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { TokenVerifier } from './auth/verify.js';
import type { JobManager } from './jobs/manager.js';
import type { Quota } from './quota.js';
import type { UserLimiter } from './rate-limit.js';
import type { Metrics } from './metrics.js';
import type { Database, UserRepository } from './db/repository.js';
import type { Connection } from './ws/connection.js';
import type { PreviewSigner } from './http/signing.js';
import type { Notifier } from './notifications/notifier.js';
import type { RenderStates } from './renders.js';
import type { Presence } from './presence.js';

export type UserRepo = UserRepository;

export interface ServerContext {
  config: Config;
  log: Logger;
  backend: ExecutionBackend;
  db: Database;
  verify: TokenVerifier;
  jobs: JobManager;
  quota: Quota;
  /** AI-triggering messages per user (WebSocket `message`, image generation, renders); shared by every instance. */
  aiLimiter: UserLimiter;
  metrics: Metrics;
  signer: PreviewSigner;
  connections: Set<Connection>;
  /** Notices of ended jobs: the bell's list, live on the sockets, web push. */
  notifier: Notifier;
  /** Promo renders' state: one render per project, its progress the same on every instance. */
  renders: RenderStates;
  /** Whether a user is looking at the app, on any instance (their sockets say so: `heard`). */
  presence: Presence;
  /** URL of the embedded issuer (embedded auth) or Supabase, for the browser's client. */
  authUrl: string;
  anonKey: string;
}
