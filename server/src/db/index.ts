/** The server's database layer: one repository interface, an embedded (PGlite) and a Supabase implementation. */
export * from './repository.js';
export { openPgliteDatabase, type PgliteDatabase, type PgliteDatabaseOptions } from './pglite.js';
export { openDatabase, pgliteDataDir, type DatabaseConfig } from './open.js';
export { createSupabaseDatabase, type SupabaseDatabase, type SupabaseDatabaseOptions } from './supabase.js';
export { applyMigrations, listMigrations, MIGRATIONS_DIR, LOCAL_COMPAT_FILE, type SqlExecutor, type MigrateOptions, type MigrateResult } from './migrate.js';
