/**
 * `npm run bench`: every section prints ratios against a baseline measured in the same run.
 * Results also land in bench/results/latest.json (ignored by git).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAgent } from './agent.js';
import { benchCheck } from './check.js';
import { benchFilesAndGit } from './files-git.js';
import { benchServer } from './server.js';
import { benchFlood } from './flood.js';
import { benchCluster } from './cluster.js';
import { benchModal } from './modal.js';
import { benchMigrate } from './migrate.js';
import { benchVideo } from './video.js';
import type { Measurement } from './lib.js';

const sections: Record<string, () => Promise<unknown>> = {
  'files-git': benchFilesAndGit,
  agent: () => benchAgent(),
  server: benchServer,
  flood: benchFlood,
  cluster: benchCluster,
  modal: () => benchModal(),
  migrate: () => benchMigrate(),
  video: () => benchVideo(),
  check: benchCheck,
};

const only = process.argv.slice(2);
const results: Record<string, unknown> = {};
console.log(`DreamCore bench — node ${process.version}, ${new Date().toISOString()}`);
for (const [name, fn] of Object.entries(sections)) {
  if (only.length > 0 && !only.includes(name)) continue;
  results[name] = (await fn()) as Measurement[];
}
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(results, null, 2));
console.log(`\nwrote ${path.relative(process.cwd(), path.join(dir, 'latest.json'))}`);
