/**
 * DreamCore's skills: folders in this package (`packages/runtime-core/skills/<name>/SKILL.md` + small helper files),
 * shipped with it. The local backend shows them to the agent by default; the Modal deploy step uploads the same
 * folder to the skills volume. `runClaude({ skills })` picks a subset; `chooseSkills` is the server's rule.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createError } from '../errors.js';

/** A skill's folder name: what `runClaude({ skills })` takes and what the CLI lists. */
export const SKILL_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The skills shipped with this package (found from the source tree and from the built dist/ alike). */
export const SKILLS_DIR: string = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['..', '../..', '../../..']) {
    const candidate = path.resolve(here, up, 'skills');
    if (existsSync(path.join(candidate, 'game-loop', 'SKILL.md'))) return candidate;
  }
  return path.resolve(here, '../../skills');
})();

export interface SkillInfo {
  name: string;
  description: string;
  /** Absolute folder. */
  dir: string;
}

/** `name` and `description` from a SKILL.md's YAML front matter (single-line values, as the CLI's docs show them). */
export function parseSkillFrontMatter(text: string): { name: string; description: string } | null {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n/.exec(text);
  if (!match) return null;
  const fields: Record<string, string> = {};
  for (const line of match[1]!.split(/\r?\n/)) {
    const kv = /^([a-zA-Z-]+):\s*(.*)$/.exec(line);
    if (kv) fields[kv[1]!] = kv[2]!.trim().replace(/^(["'])(.*)\1$/, '$2');
  }
  if (!fields.name || !fields.description) return null;
  return { name: fields.name, description: fields.description };
}

/**
 * The skills in `dir` (default: this package's), sorted by name. A folder whose SKILL.md lacks front matter, or
 * whose front-matter name differs from the folder's, is a packaging mistake: INVALID_ARGUMENT names it.
 */
export async function listSkills(dir: string = SKILLS_DIR): Promise<SkillInfo[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const skills: SkillInfo[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const file = path.join(dir, entry.name, 'SKILL.md');
    const text = await fs.readFile(file, 'utf8').catch(() => null);
    if (text === null) continue;
    const meta = parseSkillFrontMatter(text);
    if (!meta || meta.name !== entry.name || !SKILL_NAME.test(entry.name)) {
      throw createError('INVALID_ARGUMENT', `skill ${entry.name}: SKILL.md needs front matter with name: ${entry.name} and a description`, {
        details: { skill: entry.name },
      });
    }
    skills.push({ ...meta, dir: path.join(dir, entry.name) });
  }
  return skills.sort((a, b) => a.name.localeCompare(b.name));
}

/** Skills only a 3D game needs. */
const THREE_D_SKILLS = new Set(['threejs-3d']);
const MENTIONS_3D = /3d|３ｄ|three\.?js|立体|3次元|三次元/i;

/**
 * The server's rule for which skills a generation gets: every shipped skill, except that the 3D skill is given only
 * when the request (or the project's STYLE.md, passed in `context`) mentions 3D. Skill bodies load only when the
 * agent uses them, so offering the rest costs a line each in the prompt.
 */
export function chooseSkills(available: readonly string[], request: string, context = ''): string[] {
  const wants3d = MENTIONS_3D.test(request) || MENTIONS_3D.test(context);
  return available.filter((name) => wants3d || !THREE_D_SKILLS.has(name));
}
