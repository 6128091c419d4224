/**
 * Boot-time choice of database: a direct PostgreSQL with DATABASE_URL, else Supabase when it is configured, else the
 * embedded PGlite under DATA_DIR/pglite.
 * Takes a structural slice of the server config so this folder does not depend on config.ts.
 */
import path from 'node:path';
import { createError } from '@dreamcore/runtime-core';
import type { Database } from './repository.js';
import { openPgliteDatabase } from './pglite.js';

export interface DatabaseConfig {
  database: 'pglite' | 'supabase' | 'postgres';
  DATA_DIR: string;
  DATABASE_URL?: string | undefined;
  DATABASE_POOL_SIZE?: number | undefined;
  SUPABASE_URL?: string | undefined;
  SUPABASE_ANON_KEY?: string | undefined;
  SUPABASE_SERVICE_ROLE_KEY?: string | undefined;
  /** Optional: a folder of ready-made migrated PGlite databases, so a new DATA_DIR opens in seconds (tests, dev). */
  PGLITE_TEMPLATE_DIR?: string | undefined;
}

interface BootLog {
  info(obj: object, msg?: string): void;
}

/** The embedded database's directory inside DATA_DIR. */
export function pgliteDataDir(dataDir: string): string {
  return path.join(dataDir, 'pglite');
}

export async function openDatabase(config: DatabaseConfig, log?: BootLog): Promise<Database> {
  const started = performance.now();
  if (config.database === 'postgres') {
    if (!config.DATABASE_URL) throw createError('NOT_CONFIGURED', 'the postgres database needs DATABASE_URL');
    const url = new URL(config.DATABASE_URL);
    // Supabase has the roles and auth schema already: local-compat.sql must never run there.
    const supabase = Boolean(config.SUPABASE_URL) || /(^|\.)supabase\.(co|com)$/.test(url.hostname);
    // Each database's client is loaded only when it is the one chosen (pg, supabase-js): the embedded default needs neither.
    const { openPostgresDatabase } = await import('./postgres.js');
    const db = await openPostgresDatabase({
      connectionString: config.DATABASE_URL,
      localCompat: !supabase,
      ...(config.DATABASE_POOL_SIZE ? { poolSize: config.DATABASE_POOL_SIZE } : {}),
    });
    log?.info(
      { database: 'postgres', host: url.hostname, applied: db.migrations.applied, ms: Math.round(performance.now() - started) },
      'database: PostgreSQL (direct connection)',
    );
    return db;
  }
  if (config.database === 'supabase') {
    if (!config.SUPABASE_URL || !config.SUPABASE_ANON_KEY || !config.SUPABASE_SERVICE_ROLE_KEY) {
      throw createError('NOT_CONFIGURED', 'Supabase needs SUPABASE_URL, SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY');
    }
    const { createSupabaseDatabase } = await import('./supabase.js');
    const db = createSupabaseDatabase({
      url: config.SUPABASE_URL,
      anonKey: config.SUPABASE_ANON_KEY,
      serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY,
    });
    log?.info({ database: 'supabase', url: config.SUPABASE_URL }, 'database: Supabase (migrations are applied out of band)');
    return db;
  }
  const dataDir = pgliteDataDir(config.DATA_DIR);
  const db = await openPgliteDatabase({
    dataDir,
    ...(config.PGLITE_TEMPLATE_DIR ? { templateDir: config.PGLITE_TEMPLATE_DIR } : {}),
  });
  log?.info({ database: 'pglite', dataDir, applied: db.migrations.applied, ms: Math.round(performance.now() - started) }, 'database: embedded PGlite');
  return db;
}
