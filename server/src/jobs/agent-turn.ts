/**
 * The small decisions around an agent turn: which skills it gets, what the repair turn says, and the project's name
 * from its spec. Pure functions, so the rules are tested (and read) on their own.
 */
import { chooseSkills, type GameCheckResult } from '@dreamcore/runtime-core';

/** The name a project gets when its creator gives none: only such a project names itself from its spec. */
export const DEFAULT_PROJECT_NAME = 'New Game';

/** A check as the job records it: which attempt it was (1 after the turn, 2 after the repair turn, ...). */
export type CheckedTurn = GameCheckResult & { attempt: number };

/**
 * The skills a generation gets (documented in the README): every shipped skill, the 3D one only when the request
 * mentions 3D (the style guideline travels in the prompt, so a 3D style counts).
 */
export function skillsFor(available: readonly string[], prompt: string): string[] {
  return chooseSkills(available, prompt);
}

const CHECK_NAMES: Record<keyof GameCheckResult['checks'], string> = {
  loads: 'the page loads',
  noErrors: 'no errors',
  draws: 'something is drawn',
  animates: 'it moves on its own',
  respondsToKeys: 'it reacts to key presses',
  respondsToTap: 'it reacts to a tap',
};

/** The automatic repair turn's prompt: what the check saw, and the user's own request for context. */
export function repairPrompt(check: GameCheckResult, request: string): string {
  const failed = (Object.keys(CHECK_NAMES) as (keyof GameCheckResult['checks'])[]).filter((k) => k !== 'animates' && !check.checks[k]);
  const lines = [
    'DreamCore loaded the game headless after your turn, and it does not work yet.',
    failed.length > 0 ? `Failed: ${failed.map((k) => CHECK_NAMES[k]).join(', ')}.` : '',
    check.errors.length > 0 ? `Errors:\n${check.errors.map((e) => `- ${e}`).join('\n')}` : '',
    'Fix the game so it loads without errors, draws, and reacts to the keyboard and to a tap. Keep everything else as it is.',
    `Then tell the user in one or two short sentences, in the language of their request, that you fixed a problem. Their request was:\n${request.slice(0, 2000)}`,
  ];
  return lines.filter((line) => line !== '').join('\n\n');
}

/** The title on SPEC.md's first `# ` line, cleaned for a project name (null when there is none). */
export function specTitle(spec: string): string | null {
  const line = spec.split('\n').find((l) => /^#\s+\S/.test(l));
  if (!line) return null;
  const title = line
    .replace(/^#\s+/, '')
    .replace(/[*_`]/g, '')
    .replace(/[\p{Cc}]/gu, '')
    .trim()
    .slice(0, 50);
  return title === '' ? null : title;
}
