/**
 * A realistic DreamCore data set, written through the contract (so it works on any backend): for migration tests and
 * benchmarks. Every user gets projects with several commits (generated games, specs, PUBLISH.json, thumbnails,
 * `.ai-context/` traces, `.claude/skills/`), binary files, non-ASCII names, and user assets; across the set there is an
 * empty project (a history whose tree is empty), a project whose last commit is a restore, and a project with
 * uncommitted work (the working tree differs from HEAD).
 */
import { randomUUID } from 'node:crypto';
import type { ExecutionBackend, ProjectScope } from '../contract.js';

export interface MigrationDatasetOptions {
  users?: number;
  projectsPerUser?: number;
  /** Commits after the initial one, per ordinary project (default 4). */
  commitsPerProject?: number;
  /** Assets per user (default 3). */
  assetsPerUser?: number;
  /** Bytes of the one large binary (a demo movie) in the first project (default 1.5 MB). */
  movieBytes?: number;
  seed?: number;
}

export interface MigrationDataset {
  users: string[];
  projects: ProjectScope[];
  /** The project with no files (its one commit has an empty tree). */
  empty: ProjectScope;
  /** The project whose newest commit is a restore. */
  restored: ProjectScope;
  /** The project whose working tree has uncommitted changes. */
  dirty: ProjectScope;
  /** Bytes written to files, every version counted. */
  bytes: number;
  /** Commits in all projects' histories. */
  commits: number;
}

/** Deterministic, incompressible-looking bytes (xorshift32). */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function png(length: number, seed: number): Uint8Array {
  const bytes = pseudoRandomBytes(length, seed);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
  return bytes;
}

const hex8 = (seed: number) => ((seed * 2654435761) >>> 0).toString(16).padStart(8, '0');

export async function generateMigrationDataset(backend: ExecutionBackend, options: MigrationDatasetOptions = {}): Promise<MigrationDataset> {
  const userCount = options.users ?? 3;
  const perUser = options.projectsPerUser ?? 3;
  const commitsPer = options.commitsPerProject ?? 4;
  const assetsPer = options.assetsPerUser ?? 3;
  let seed = options.seed ?? 7;
  const users = Array.from({ length: userCount }, () => randomUUID()).sort();
  const projects: ProjectScope[] = [];
  let bytes = 0;
  let commits = 0;
  const write = async (scope: Parameters<ExecutionBackend['files']['write']>[0], path: string, data: string | Uint8Array) => {
    await backend.files.write(scope, path, data);
    bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  };
  const commit = async (p: ProjectScope, message: string) => backend.git.commit(p, message);

  let empty: ProjectScope | undefined;
  let restored: ProjectScope | undefined;
  let dirty: ProjectScope | undefined;

  for (const [u, userId] of users.entries()) {
    for (let i = 0; i < assetsPer; i++) {
      const data = png(2_000 + 1_500 * i, ++seed);
      const name = i === 1 ? `キャラ_${hex8(seed)}.png` : `sprite${i}_${hex8(seed)}.png`;
      await write({ userId, assets: true }, name, data);
    }
    for (let j = 0; j < perUser; j++) {
      const p: ProjectScope = { userId, projectId: randomUUID() };
      projects.push(p);
      const index = u * perUser + j;
      if (index === 1) {
        // An empty project: the folder exists and its one commit has an empty tree.
        empty = p;
        await backend.files.write(p, '.keep', '');
        await backend.files.delete(p, '.keep');
        await backend.git.init(p, { message: 'Initial project setup' });
        continue;
      }
      await write(p, 'index.html', `<!DOCTYPE html><html><body><h1>Welcome to Game Creator</h1><!-- ${p.projectId} --></body></html>\n`);
      await backend.git.init(p, { message: 'Initial project setup' });
      const versions: string[] = [];
      for (let c = 1; c <= commitsPer; c++) {
        const title = `ゲーム ${index}-${c}`;
        await write(
          p,
          'index.html',
          `<!DOCTYPE html><html><head><title>${title}</title><script src="js/game.js"></script></head><body><canvas></canvas></body></html>\n`,
        );
        await write(p, 'js/game.js', `// v${c}\nconst level = ${c};\n${'function tick(){ /* … */ }\n'.repeat(20 * c)}`);
        await write(p, 'specs/game.md', `# ゲーム仕様\nゲーム名: ${title}\n`);
        await write(p, `sprites/プレイヤー ${c}.png`, png(3_000 + 700 * c, ++seed));
        if (c === 2) {
          await write(p, 'PUBLISH.json', JSON.stringify({ title, description: '説明', tags: ['action'], visibility: 'public', remix: 'allowed' }));
          await write(p, 'thumbnail.webp', pseudoRandomBytes(9_000, ++seed));
          await write(p, 'STYLE.md', '# pixel\n');
        }
        if (c === 3) await backend.files.delete(p, 'sprites/プレイヤー 1.png');
        await write(p, `.ai-context/2026-01-0${c}T00-00-00.000Z.json`, JSON.stringify({ prompt: `step ${c}`, files: ['index.html'] }));
        versions.push((await commit(p, c === 1 ? 'ブロック崩しを作って' : `Update via Claude CLI\n\nstep ${c}`)).hash);
      }
      await write(p, '.claude/skills/game-basics/SKILL.md', '---\nname: game-basics\n---\nUse a canvas.\n');
      if (index === 0) {
        await write(p, 'movie.mp4', pseudoRandomBytes(options.movieBytes ?? 1_500_000, ++seed));
        await commit(p, 'Generate demo movie');
      }
      if (index === 2) {
        // The newest commit is a restore (after the uncommitted skill file above is saved by it first).
        restored = p;
        await backend.git.restore(p, versions[0]!, { message: `Restore to ${versions[0]!.slice(0, 7)}` });
        continue;
      }
      if (index === 3) {
        dirty = p;
        await write(p, 'index.html', '<!-- unsaved edit, never committed -->\n');
        await write(p, '.current-version', versions[1] ?? versions[0]!);
        await backend.files.delete(p, 'specs/game.md'); // an uncommitted deletion
        continue;
      }
      await commit(p, 'Update skills');
    }
  }
  if (!empty || !restored || !dirty) throw new Error('generateMigrationDataset needs at least 4 projects in all');
  for (const p of projects) commits += (await backend.git.log(p, { limit: 500 })).commits.length;
  return { users, projects, empty, restored, dirty, bytes, commits };
}
