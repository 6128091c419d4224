/**
 * The pieces behind "chat for people" and "what changed": a tool call's step, its folded detail, the request's
 * language, and the commit message that keeps the agent's summary.
 */
import { describe, expect, it } from 'vitest';
import { requestLanguage, stepForTool, stepText, toolDetail, toolStep } from '../src/jobs/steps.js';
import { versionSubject } from '../src/versions.js';
import { withLanguage } from '../src/language.js';
import { splitStyle } from '@dreamcore/runtime-core/demo';

describe('progress steps', () => {
  it('name what the agent is doing, not the tool', () => {
    const fresh = { hasGame: false };
    const made = { hasGame: true };
    expect(stepForTool('Write', { file_path: '/w/index.html', content: '<canvas>' }, fresh)).toBe('building');
    expect(stepForTool('Edit', { file_path: '/w/index.html', new_string: 'x' }, made)).toBe('improving');
    expect(stepForTool('Edit', { file_path: '/w/index.html', new_string: 'const ctx = new AudioContext();' }, made)).toBe('sound');
    expect(stepForTool('Write', { file_path: '/w/assets/jump.wav' }, made)).toBe('sound');
    expect(stepForTool('Write', { file_path: '/w/hero.svg', content: '<svg/>' }, made)).toBe('graphics');
    expect(stepForTool('MultiEdit', { file_path: '/w/a.js', edits: [{ new_string: 'osc = ctx.createOscillator()' }] }, made)).toBe('sound');
    expect(stepForTool('Read', { file_path: '/w/index.html' }, made)).toBe('looking');
    expect(stepForTool('Bash', { command: 'node check.js' }, made)).toBe('checking');
    expect(stepForTool('TodoWrite', {}, made)).toBe('planning');
    expect(stepForTool('mcp__images__generate_image', {}, made)).toBe('graphics');
    expect(stepForTool('SomethingNew', null, made)).toBe('working');
  });

  it('speak the request language, and keep the tool call as a short detail', () => {
    expect(requestLanguage('ヘビのゲームを作って')).toBe('ja');
    expect(requestLanguage('Make a snake game')).toBe('en');
    expect(stepText('sound', 'ja')).toBe('サウンドを加えています');
    expect(stepText('building', 'en')).toBe('Building your game');
    expect(toolDetail('Write', { file_path: '/workspace/index.html', content: '…' })).toBe('Write index.html');
    expect(toolDetail('Bash', { command: 'ls' })).toBe('Bash ls');
    expect(toolDetail('TodoWrite', { todos: [] })).toBe('TodoWrite');
    expect(toolDetail('Grep', { pattern: 'x'.repeat(100) })).toBe(`Grep ${'x'.repeat(80)}…`);
  });

  it("name the tool call's kind and its file's plain name for the app's own words, never a command or a pattern", () => {
    expect(toolStep('Write', { file_path: '/workspace/index.html', content: '…' })).toEqual({ tool: 'write', file: 'index.html' });
    expect(toolStep('MultiEdit', { file_path: '/w/js/game.js', edits: [] })).toEqual({ tool: 'edit', file: 'game.js' });
    expect(toolStep('Read', { file_path: 'SPEC.md' })).toEqual({ tool: 'read', file: 'SPEC.md' });
    expect(toolStep('Bash', { command: 'node check.js' })).toEqual({ tool: 'run' });
    expect(toolStep('Grep', { pattern: 'AudioContext', path: '/w' })).toEqual({ tool: 'search' });
    expect(toolStep('TodoWrite', { todos: [] })).toEqual({ tool: 'plan' });
    expect(toolStep('mcp__dreamcore__generate_image', { prompt: 'a ship' })).toEqual({ tool: 'image' });
    expect(toolStep('mcp__dreamcore__suggest_next_steps', { suggestions: [] })).toEqual({ tool: 'ideas' });
    expect(toolStep('SomethingNew', null)).toEqual({ tool: 'other' });
    expect(toolStep('Edit', {})).toEqual({ tool: 'edit' });
  });
});

describe("the user's language for the agent", () => {
  it('is a note after the request, so the request itself (its version name, a detector reading it) is unchanged', () => {
    const prompt = withLanguage('Make a snake game', 'ja');
    expect(prompt).toMatch(/^Make a snake game\n\n---\nThe user's language is Japanese /);
    expect(prompt).toContain('in the language of their message; when that is unclear (a very short or mixed message), in Japanese.');
    expect(splitStyle(prompt).request).toBe('Make a snake game');
    expect(requestLanguage(prompt.split(/\n-{3,}\n/)[0]!)).toBe('en');
    expect(withLanguage('ヘビのゲーム', 'pt')).toContain('Portuguese (Brazil)');
    expect(withLanguage('ヘビのゲーム', undefined)).toBe('ヘビのゲーム');
  });
});

describe('version messages', () => {
  it('the request first line as the subject (the backend adds the agent summary as the body: runtime-core runCommitMessage)', () => {
    expect(versionSubject('Make a snake game\nwith walls')).toBe('Make a snake game');
    expect(versionSubject('  \nMake it red')).toBe('Make it red');
    expect(versionSubject('x'.repeat(60))).toBe(`${'x'.repeat(50)}…`);
    expect(versionSubject('')).toBe('Update');
  });
});
