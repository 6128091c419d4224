#!/usr/bin/env node
/**
 * What `npm test` needs from the system beyond `npm install`, in one list: `npm test` checks it first (vitest
 * globalSetup) and stops with one message naming what is missing; `npm run setup` installs what is missing (apt).
 *
 *   node scripts/prerequisites.mjs           prints what is missing, exits 1 if something required is
 *   node scripts/prerequisites.mjs --apt     prints the Debian packages that would install what is missing
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Provisions and checks the Modal emulator's sandbox network (`setup [--check]`); loads nothing but Node. */
const MODAL_EMULATOR_BIN = fileURLToPath(new URL('../packages/backend-modal/bin/modal-emulator.js', import.meta.url));

/**
 * A command on PATH (as `command -v` finds it).
 * @param {string} name
 */
function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * A Debian package is installed (false where there is no dpkg: the check then only informs).
 * @param {string} name
 */
function debianPackage(name) {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

/**
 * Full chromium (the browser tests' web push case; the product's browser where the headless shell is missing):
 * `CHROMIUM_PATH`, else Debian's. The paths are @dreamcore/media's CHROMIUM_CANDIDATES, written out because this
 * script runs before `npm install` and the build (`npm run setup`).
 */
export function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return existsSync(process.env.CHROMIUM_PATH) ? process.env.CHROMIUM_PATH : null;
  return ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file)) ?? null;
}

/** required: without it `npm test` fails; otherwise a lane of tests is skipped or output looks wrong. */
export const PREREQUISITES = [
  { name: 'bubblewrap', apt: 'bubblewrap', required: true, why: 'confines the agent and the Modal emulator sandboxes', present: () => onPath('bwrap') },
  {
    name: 'chromium',
    apt: 'chromium',
    required: true,
    why: "the browser tests' web push case (the headless shell denies notifications; or set CHROMIUM_PATH)",
    present: () => chromiumPath() !== null,
  },
  {
    name: 'chromium-headless-shell',
    apt: 'chromium-headless-shell',
    required: true,
    why: "chromium without its UI layer: game checks, video capture and the browser tests use it (a game check in 0.3–0.4× the time and CPU of full chromium), and the Modal emulator's render image is built from it",
    present: () => existsSync('/usr/lib/chromium/chromium-headless-shell'),
  },
  { name: 'git', apt: 'git', required: true, why: 'project history on the local backend', present: () => onPath('git') },
  { name: 'ps', apt: 'procps', required: true, why: 'process-tree checks in the agent tests', present: () => onPath('ps') },
  { name: 'ip', apt: 'iproute2', required: true, why: 'gives each Modal emulator sandbox a network of its own', present: () => onPath('ip') },
  {
    name: 'the Modal emulator network',
    // Not a package: `npm run setup` provisions it as root (packages/backend-modal/src/emulator/network.ts).
    required: true,
    why: "sandboxes reach only the emulator's internet address (on lo, added by `npm run setup` as root, once per boot), never this machine's loopback; needs root",
    present: () => process.getuid?.() === 0 && spawnSync(process.execPath, [MODAL_EMULATOR_BIN, 'setup', '--check'], { stdio: 'ignore' }).status === 0,
  },
  {
    name: 'PostgreSQL 15',
    apt: 'postgresql-15',
    required: false,
    why: 'the Supabase-shaped and direct PostgreSQL database lanes, the cluster test and npm run cluster (skipped without it)',
    present: () => ['/usr/lib/postgresql/15/bin/postgres', '/usr/local/bin/postgres'].some((file) => existsSync(file)),
  },
  {
    name: 'emoji font',
    apt: 'fonts-noto-color-emoji',
    required: false,
    why: 'emoji in captured game videos',
    present: () => debianPackage('fonts-noto-color-emoji'),
  },
  { name: 'CJK fonts', apt: 'fonts-noto-cjk', required: false, why: 'Japanese text in captured game videos', present: () => debianPackage('fonts-noto-cjk') },
  {
    name: 'python3',
    apt: 'python3',
    required: false,
    why: "`npm run bench -- cluster`'s model process (bench/fake-model.py writes 150 jobs' streams into the server's pipes)",
    present: () => onPath('python3'),
  },
];

export function missingPrerequisites() {
  return PREREQUISITES.filter((p) => !p.present());
}

/** The one message `npm test` stops with, or null when every required prerequisite is there. */
export function prerequisiteMessage(missing = missingPrerequisites()) {
  const required = missing.filter((p) => p.required);
  if (required.length === 0) return null;
  return [
    `npm test needs ${required.map((p) => p.name).join(', ')}, which ${required.length === 1 ? 'is' : 'are'} not installed here:`,
    ...required.map((p) => `  - ${p.name}: ${p.why}`),
    `Install with: npm run setup   (Debian/Ubuntu: sudo apt-get install ${missing
      .filter((p) => p.apt)
      .map((p) => p.apt)
      .join(' ')})`,
  ].join('\n');
}

/** vitest globalSetup: stop before any test file runs when something required is missing (the message alone, no trace). */
export default function checkPrerequisites() {
  const missing = missingPrerequisites();
  const message = prerequisiteMessage(missing);
  if (message) {
    console.error(`\n${message}\n`);
    process.exit(1);
  }
  for (const p of missing) console.warn(`note: ${p.name} is not installed: ${p.why}. \`npm run setup\` installs it.`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const missing = missingPrerequisites();
  if (process.argv.includes('--apt')) {
    const apt = missing.filter((p) => p.apt).map((p) => p.apt);
    process.stdout.write(apt.join(' ') + (apt.length ? '\n' : ''));
  } else {
    for (const p of missing) console.log(`${p.required ? 'missing' : 'optional'}: ${p.name} (${p.apt ?? 'npm run setup'}): ${p.why}`);
    process.exitCode = missing.some((p) => p.required) ? 1 : 0;
  }
}
