#!/usr/bin/env node
/**
 * `npm run fuzz -- --minutes N [--seed S]`: the fuzz properties of server/test/fuzz.test.ts (every WebSocket message
 * type before and after init, every REST route) for N minutes instead of `npm test`'s bounded runs. A failure
 * prints fast-check's seed and path; `--seed S` replays it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const minutes = Number(option('minutes', '5'));
const seed = option('seed', '');
if (!Number.isFinite(minutes) || minutes <= 0) {
  console.error('usage: npm run fuzz -- --minutes N [--seed S]');
  process.exit(2);
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
console.log(`fuzz: ${minutes} minute(s)${seed ? `, seed ${seed}` : ''}; progress every 30 s`);
const started = Date.now();
const child = spawn('npx', ['vitest', 'run', 'server/test/fuzz.test.ts', '--reporter=verbose'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, FUZZ_MINUTES: String(minutes), ...(seed ? { FUZZ_SEED: seed } : {}) },
});
const timer = setInterval(() => {
  const elapsed = (Date.now() - started) / 60_000;
  console.log(`fuzz: ${elapsed.toFixed(1)} of ~${minutes} minute(s)`);
}, 30_000);
child.on('exit', (code) => {
  clearInterval(timer);
  console.log(
    `fuzz: ${code === 0 ? 'no failure found' : 'FAILED (see the counterexample and seed above)'} in ${((Date.now() - started) / 60_000).toFixed(1)} minute(s)`,
  );
  process.exit(code ?? 1);
});
