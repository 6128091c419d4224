/**
 * The migration runner: applies `server/db/migrations/NNN_*.sql` in name order, each in its own transaction, and
 * records every applied file (with a checksum) in `public.schema_migrations`.
 *
 * The same files go to Supabase unchanged (with `supabase db push`, psql, or this runner over a direct connection);
 * `local-compat.sql` — the roles, `auth` schema and `auth.uid()` that Supabase already has — is applied only when
 * asked for (the embedded PGlite and the tests' PostgreSQL).
 *
 * The runner speaks to the database through a two-method executor so that PGlite and `pg` (or anything else that can
 * run a multi-statement string) fit without either being a dependency here.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createError } from '@dreamcore/runtime-core';

export interface SqlExecutor {
  /** Runs a string of one or more statements without parameters (simple query protocol). */
  exec(sql: string): Promise<void>;
  /** Runs one parameterised statement and returns its rows. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface MigrateOptions {
  /** Apply `db/local-compat.sql` first (never on Supabase). */
  localCompat?: boolean;
  /** Defaults to the package's `db/migrations`. */
  migrationsDir?: string;
}

export interface MigrateResult {
  /** Files applied by this call, in order (`local-compat.sql` included when it ran). */
  applied: string[];
  /** Files found already applied. */
  skipped: string[];
}

const DB_DIR = fileURLToPath(new URL('../../db/', import.meta.url));
export const MIGRATIONS_DIR = path.join(DB_DIR, 'migrations');
export const LOCAL_COMPAT_FILE = path.join(DB_DIR, 'local-compat.sql');
const MIGRATION_FILE = /^\d{3,}_[A-Za-z0-9_.-]+\.sql$/;
// The compat file is recorded like a migration, under a name that sorts before every numbered file.
const COMPAT_NAME = '000_local-compat.sql';
// Any fixed number shared by every runner: two servers booting against one database take turns.
const ADVISORY_LOCK_KEY = 0x44_43_6d_67; // "DCmg"

interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

async function loadMigration(file: string, name: string): Promise<Migration> {
  // Line endings normalised so that a checkout with CRLF does not look like an edited migration.
  const sql = (await readFile(file, 'utf8')).replace(/\r\n/g, '\n');
  return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
}

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((name) => MIGRATION_FILE.test(name)).sort();
  return Promise.all(names.map((name) => loadMigration(path.join(dir, name), name)));
}

export async function applyMigrations(db: SqlExecutor, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = await listMigrations(options.migrationsDir);
  if (options.localCompat) migrations.unshift(await loadMigration(LOCAL_COMPAT_FILE, COMPAT_NAME));

  await db.exec(`
    create table if not exists public.schema_migrations (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    );
    -- On Supabase every new public table is reachable through the REST API: with RLS on and no policy, nobody but
    -- the owner and the service role sees it.
    alter table public.schema_migrations enable row level security;
  `);
  await db.query('select pg_advisory_lock($1)', [ADVISORY_LOCK_KEY]);
  try {
    const rows = await db.query<{ name: string; checksum: string }>('select name, checksum from public.schema_migrations');
    const done = new Map(rows.map((row) => [row.name, row.checksum]));
    const result: MigrateResult = { applied: [], skipped: [] };
    for (const migration of migrations) {
      const recorded = done.get(migration.name);
      if (recorded === migration.checksum) {
        result.skipped.push(migration.name);
        continue;
      }
      // The compat file is idempotent by design and may grow; re-running it is how a change reaches old databases.
      if (recorded !== undefined && migration.name !== COMPAT_NAME) {
        throw createError('CONFLICT', `migration ${migration.name} was changed after it was applied; migrations are append-only, add a new file instead`, {
          details: { migration: migration.name },
        });
      }
      await db.exec('begin');
      try {
        await db.exec(migration.sql);
        await db.query(
          `insert into public.schema_migrations (name, checksum) values ($1, $2)
           on conflict (name) do update set checksum = excluded.checksum, applied_at = now()`,
          [migration.name, migration.checksum],
        );
        await db.exec('commit');
      } catch (error) {
        await db.exec('rollback').catch(() => undefined);
        throw createError('INTERNAL', `migration ${migration.name} failed: ${(error as Error).message}`, {
          cause: error,
          details: { migration: migration.name },
        });
      }
      result.applied.push(migration.name);
    }
    return result;
  } finally {
    await db.query('select pg_advisory_unlock($1)', [ADVISORY_LOCK_KEY]);
  }
}
