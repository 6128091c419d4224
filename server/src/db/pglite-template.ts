/**
 * The template cache (`templateDir`): ready-made, migrated PGlite databases, one per PGlite version and set of
 * migration files. Creating a database runs initdb inside WebAssembly (8–20 s on a busy machine); copying a template
 * takes a fraction of that, which matters for tests and dev servers that create many databases.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { LOCAL_COMPAT_FILE, listMigrations } from './migrate.js';

const TEMPLATE_MARKER = 'dreamcore-template.json';

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

export function isDatabase(dataDir: string): Promise<boolean> {
  return exists(path.join(dataDir, 'PG_VERSION'));
}

export function isTemplate(dir: string): Promise<boolean> {
  return exists(path.join(dir, TEMPLATE_MARKER));
}

/** A new data directory as a copy of the template (at most an empty leftover is replaced). */
export async function copyTemplate(template: string, dataDir: string): Promise<void> {
  await rm(dataDir, { recursive: true, force: true });
  await cp(template, dataDir, { recursive: true, filter: (source) => path.basename(source) !== TEMPLATE_MARKER });
}

/** Where the template for this PGlite version and these exact migration files lives. */
export async function templatePath(templateDir: string, migrationsDir: string | undefined): Promise<string> {
  const hash = createHash('sha256');
  hash.update(pgliteVersion());
  hash.update(await readFile(LOCAL_COMPAT_FILE));
  for (const migration of await listMigrations(migrationsDir)) hash.update(`${migration.name}:${migration.checksum}`);
  return path.join(templateDir, `pglite-${hash.digest('hex').slice(0, 16)}`);
}

/** Copied aside and renamed into place, so a concurrent opener never copies half a template. */
export async function publishTemplate(dataDir: string, target: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const building = `${target}.building-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await cp(dataDir, building, { recursive: true });
    await writeFile(path.join(building, TEMPLATE_MARKER), JSON.stringify({ pglite: pgliteVersion(), from: dataDir }));
    await rename(building, target).catch((error: NodeJS.ErrnoException) => {
      // Someone else published first: theirs is equivalent.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}

let cachedPgliteVersion: string | undefined;

/** The installed PGlite's version (its package.json is not exported, so it is found next to the entry point). */
function pgliteVersion(): string {
  if (cachedPgliteVersion === undefined) {
    try {
      const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
      const manifest = readFileSync(path.join(path.dirname(entry), '..', 'package.json'), 'utf8');
      cachedPgliteVersion = String((JSON.parse(manifest) as { version?: unknown }).version);
    } catch {
      // Without a version the template key still covers the migrations; a PGlite upgrade then needs a cleared cache.
      cachedPgliteVersion = 'unknown';
    }
  }
  return cachedPgliteVersion;
}
