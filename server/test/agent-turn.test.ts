// The rules around an agent turn, on their own: which skills, what the repair turn says, the name from SPEC.md.
import { describe, expect, it } from 'vitest';
import { listSkills, type GameCheckResult } from '@dreamcore/runtime-core';
import { repairPrompt, skillsFor, specTitle } from '../src/jobs/agent-turn.js';

describe('agent turn rules', () => {
  it('gives every shipped skill, and the 3D one only when the request or its style mentions 3D', async () => {
    const shipped = (await listSkills()).map((s) => s.name);
    expect(shipped).toEqual(expect.arrayContaining(['game-loop', 'input-controls', 'sound-effects', 'threejs-3d', 'mobile-play']));
    expect(skillsFor(shipped, 'Make a platformer')).toEqual(shipped.filter((s) => s !== 'threejs-3d'));
    for (const request of ['Make a 3D racing game', '３Ｄのゲームを作って', 'a maze\n---\nVisual style: low-poly three.js look']) {
      expect(skillsFor(shipped, request)).toEqual(shipped);
    }
  });

  it('tells the repair turn what failed and what the user asked', () => {
    const check: GameCheckResult = {
      passed: false,
      checks: { loads: true, noErrors: false, draws: false, animates: false, respondsToKeys: false, respondsToTap: true },
      errors: ["Uncaught SyntaxError: Unexpected token ';'"],
      durationMs: 10,
    };
    const prompt = repairPrompt(check, 'ヘビのゲームを作って');
    expect(prompt).toContain("Uncaught SyntaxError: Unexpected token ';'");
    expect(prompt).toContain('Failed: no errors, something is drawn, it reacts to key presses.');
    expect(prompt).not.toContain('moves on its own'); // a still game is not a broken game
    expect(prompt).toContain('ヘビのゲームを作って');
  });

  it("takes the project's name from SPEC.md's first heading", () => {
    expect(specTitle('# Star Blaster\n\nA shooter.')).toBe('Star Blaster');
    expect(specTitle('notes first\n#  **スターキャッチ** \n')).toBe('スターキャッチ');
    expect(specTitle('## Controls only\nno title')).toBeNull();
    expect(specTitle(`# ${'x'.repeat(80)}`)).toHaveLength(50);
  });
});
