/**
 * What installing the packages brings along: `@dreamcore/backend-modal` must not pull in `@dreamcore/backend-local`
 * (the media code both use lives in `@dreamcore/media`), and every package a published file imports is one its
 * package.json declares (a missing one works in this monorepo, where everything is hoisted, and breaks for users).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Manifest {
  name: string;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const workspace = new Map<string, { dir: string; manifest: Manifest }>();
for (const entry of readdirSync(path.join(ROOT, 'packages'))) {
  const dir = path.join(ROOT, 'packages', entry);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;
  workspace.set(manifest.name, { dir, manifest });
}

/** The workspace packages an install of `name` brings, following `dependencies` only (devDependencies stay behind). */
function installs(name: string, seen = new Set<string>()): Set<string> {
  seen.add(name);
  for (const dep of Object.keys(workspace.get(name)?.manifest.dependencies ?? {})) {
    if (workspace.has(dep) && !seen.has(dep)) installs(dep, seen);
  }
  return seen;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|tsx|js|jsx|mjs)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Bare package names imported by the package's shipped code (`src/` and the folders it publishes besides `dist`). */
function importedPackages(dir: string, manifest: Manifest): Set<string> {
  const folders = ['src', ...(manifest.files ?? []).filter((f) => f !== 'dist' && !f.includes('.'))];
  const names = new Set<string>();
  for (const folder of folders) {
    for (const file of sourceFiles(path.join(dir, folder))) {
      for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
        if (fileName.startsWith('.') || fileName.startsWith('node:')) continue;
        const parts = fileName.split('/');
        names.add(fileName.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
      }
    }
  }
  return names;
}

describe('packaging', () => {
  it('installing @dreamcore/backend-modal brings runtime-core and media, not backend-local', () => {
    const closure = installs('@dreamcore/backend-modal');
    expect(closure).toContain('@dreamcore/media');
    expect(closure).not.toContain('@dreamcore/backend-local');
  });

  // The bins fall back to tsx only in a source checkout, where it is the repository's dev dependency.
  const sourceCheckoutOnly = new Set(['tsx']);

  it.each(['@dreamcore/media', '@dreamcore/backend-local', '@dreamcore/backend-modal'])('%s declares every package its code imports', (name) => {
    const { dir, manifest } = workspace.get(name)!;
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
    const undeclared = [...importedPackages(dir, manifest)].filter((pkg) => !declared.has(pkg) && !sourceCheckoutOnly.has(pkg));
    expect(undeclared).toEqual([]);
  });
});
