/**
 * Demo mode's model without the CLI: the games it writes, played headless, and the script's decisions step by step.
 * The real CLI running the demo script is in model-server.test.ts.
 */
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { applyChange, buildGame, defaultTheme, demoScript, detectGameKind, splitStyle, styleTheme, type GameKind } from '@dreamcore/runtime-core/demo';
import { lastToolResults, promptText, type ContentBlock, type MessageParam, type RecordedRequest } from '@dreamcore/runtime-core/testkit';
import { playHeadless } from './support/headless-game.js';

describe('demo games', () => {
  const kinds: GameKind[] = ['shooter', 'jumper', 'snake', 'breakout', 'catcher'];

  it.each(kinds)('%s is one self-contained file under 250 lines', (kind) => {
    const html = buildGame(kind, { title: 'My <Game>', lang: 'en' });
    expect(html.split('\n').length).toBeLessThan(250);
    expect(html).toContain('<title>My &lt;Game&gt;</title>');
    expect(html).toMatch(/<canvas[^>]*>/);
    expect(html).toContain('requestAnimationFrame(frame)');
    expect(html).toContain('Press Space / tap to start');
    expect(html).not.toMatch(/\b(src|href)=|https?:\/\/|@import|url\(/);
    expect(() => new vm.Script(/<script>([\s\S]*)<\/script>/.exec(html)![1]!)).not.toThrow();
  });

  it.each(kinds)('%s starts with Space, runs with keys held, ends and restarts', (kind) => {
    const game = playHeadless(buildGame(kind, { lang: kind === 'snake' ? 'ja' : 'en' }));
    game.frames(10);
    expect(game.get('state')).toBe('start');
    expect(game.drawCalls()).toBeGreaterThan(0);
    // The title screen is still between blinks of its line: nothing is drawn again (the loop sleeps)…
    const still = game.drawCalls();
    game.frames(5);
    expect(game.drawCalls()).toBe(still);
    game.key('Space', true);
    game.key('Space', false);
    expect(game.get('state')).toBe('play');
    // …and a press wakes it at once: the next frame draws the game.
    game.frames(1);
    expect(game.drawCalls()).toBeGreaterThan(still);
    game.tap(240, 320); // shoot / jump / launch on touch
    game.key('ArrowLeft', true);
    game.frames(60);
    game.key('ArrowLeft', false);
    game.key('ArrowUp', true);
    game.frames(30);
    game.key('ArrowUp', false);
    // Left alone for up to 90 game-seconds (at 30 fps), these kinds always end; the others must keep running.
    for (let i = 0; i < 2700 && game.get('state') === 'play'; i++) game.frames(1, 1000 / 30);
    if (kind === 'snake' || kind === 'jumper' || kind === 'catcher') expect(game.get('state')).toBe('over');
    if (game.get('state') === 'over') {
      game.key('Space', true); // too soon: ignored so a held key doesn't restart by accident
      game.key('Space', false);
      expect(game.get('state')).toBe('over');
      game.frames(45);
      game.tap(240, 320);
      expect(game.get('state')).toBe('play');
      expect(game.get('score')).toBe(0);
      game.frames(30);
    }
  });

  it('reads the kind from English and Japanese prompts', () => {
    expect(detectGameKind('Make me a space shooter')).toBe('shooter');
    expect(detectGameKind('敵を撃つゲーム')).toBe('shooter');
    expect(detectGameKind('a platform game where you press space to jump')).toBe('jumper');
    expect(detectGameKind('ジャンプして障害物をよけるゲーム')).toBe('jumper');
    expect(detectGameKind('classic snake please')).toBe('snake');
    expect(detectGameKind('ヘビのゲームを作って')).toBe('snake');
    expect(detectGameKind('breakout with bricks')).toBe('breakout');
    expect(detectGameKind('ブロック崩しを作って')).toBe('breakout');
    expect(detectGameKind('a fun game')).toBe('catcher');
  });

  it('turns follow-up requests into visible theme changes', () => {
    const base = defaultTheme();
    expect(applyChange(base, 'make it red and faster')).toMatchObject({ palette: 'red', speed: 1.5 });
    expect(applyChange(base, 'もっと速くして')).toMatchObject({ palette: base.palette, speed: 1.5 });
    expect(applyChange(base, 'ゆっくりにして')).toMatchObject({ speed: 0.67 });
    expect(applyChange(base, '色をピンクに')).toMatchObject({ palette: 'pink', speed: 1 });
    const other = applyChange(base, 'surprise me');
    expect(other.palette).not.toBe(base.palette);
    expect(other.bg).not.toBe(base.bg);
  });
});

// ---------------------------------------------------------------- the script's decisions, step by step

/**
 * Drives demoScript through a conversation with a tiny in-memory stand-in for the CLI's file tools, including the
 * two CLI rules the script must live with (observed on 2.1.197): Write refuses to overwrite a file this session has
 * not Read, and a repeated Read of an unchanged file returns a stub instead of the content. The real CLI runs above
 * prove the integration; this covers the branches cheaply.
 */
function converse(
  files: Map<string, string>,
  prompt: string,
  history: MessageParam[] = [],
  /** Files this CLI process has read; pass the same set to continue in the same process. */
  read = new Set<string>(),
  /** Tools the request offers besides the file tools, and the skills the CLI lists (in a reminder, as it does). */
  offer: { tools: string[]; skills: string[] } = { tools: [], skills: [] },
) {
  const listing = offer.skills.length
    ? `<system-reminder>The following skills are available for use with the Skill tool:\n\n${offer.skills.map((n) => `- ${n}: about ${n}`).join('\n')}\n</system-reminder>`
    : '';
  const messages: MessageParam[] = [
    ...history,
    {
      role: 'user',
      content: listing
        ? [
            { type: 'text', text: listing },
            { type: 'text', text: prompt },
          ]
        : prompt,
    },
  ];
  const calls: string[] = [];
  const tools = ['Read', 'Write', 'Edit', ...offer.tools].map((name) => ({ name }));
  for (let step = 0; step < 12; step++) {
    const turn = demoScript(
      { model: 'm', messages, tools },
      {
        turnIndex: messages.filter((m) => m.role === 'assistant').length,
        attempt: 1,
        stream: true,
        model: 'm',
        prompt: promptText(messages),
        toolResults: lastToolResults(messages),
        request: {} as RecordedRequest,
      },
    );
    const content: ContentBlock[] = turn.text ? [{ type: 'text', text: turn.text }] : [];
    const uses = (turn.toolUses ?? []).map((u, i) => ({ ...u, id: `toolu_${step}_${i}` }));
    for (const u of uses) content.push({ type: 'tool_use', id: u.id, name: u.name, input: u.input });
    messages.push({ role: 'assistant', content });
    if (uses.length === 0) return { text: turn.text ?? '', calls, messages, read };
    const results: ContentBlock[] = uses.map((u) => {
      calls.push(u.name);
      const file = String(u.input.file_path);
      const fail = (text: string) => ({ type: 'tool_result', tool_use_id: u.id, content: text, is_error: true });
      const ok = (text: string) => ({ type: 'tool_result', tool_use_id: u.id, content: text });
      if (u.name === 'Read') {
        if (!files.has(file)) return fail('File does not exist.');
        if (read.has(file)) return ok('Wasted call — file unchanged since your last Read.');
        read.add(file);
        return ok(
          files
            .get(file)!
            .split('\n')
            .map((line, i) => `${i + 1}\t${line}`)
            .join('\n'),
        );
      }
      if (u.name === 'Write') {
        if (files.has(file) && !read.has(file)) return fail('File has not been read yet. Read it first before writing to it.');
        files.set(file, String(u.input.content));
        read.add(file);
        return ok(`File created successfully at: ${file}`);
      }
      if (u.name === 'Edit') {
        const current = files.get(file);
        const old = String(u.input.old_string);
        if (current === undefined || !read.has(file) || !current.includes(old)) return fail('String to replace not found in file.');
        files.set(file, current.replace(old, String(u.input.new_string)));
        return ok(`The file ${file} has been updated successfully.`);
      }
      if (u.name === 'Skill') return ok(`Launching skill: ${String(u.input.skill)}`);
      if (u.name === 'mcp__dreamcore__generate_image')
        return ok('Made hero_1a2b3c4d.png. Use it in the game at exactly this URL: /user-assets/u1/hero_1a2b3c4d.png');
      if (u.name === 'mcp__dreamcore__suggest_next_steps') return ok('Noted: the user will see these as buttons.');
      return fail('unknown tool');
    });
    messages.push({ role: 'user', content: results });
    messages.push({ role: 'system', content: 'a reminder the CLI appends' });
  }
  throw new Error('the demo script did not finish');
}

describe('demo script decisions', () => {
  const themeOf = (html: string | undefined) => JSON.parse(/const THEME = (\{.*?\});/.exec(html ?? '')![1]!);

  it('writes a new game, then edits it across follow-ups (the second Read gets the stub)', () => {
    const files = new Map<string, string>();
    const first = converse(files, 'ヘビのゲームを作って');
    expect(first.calls).toEqual(['Write', 'Write']);
    expect(files.get('SPEC.md')).toMatch(/^# ネオンスネーク\n/);
    expect(files.get('index.html')).toContain('content="snake"');
    expect(first.text).toContain('ネオンスネーク');
    const second = converse(files, 'make it green', first.messages);
    expect(second.calls).toEqual(['Read', 'Edit']);
    expect(themeOf(files.get('index.html')).palette).toBe('green');
    expect(second.text).toMatch(/green/);
  });

  it('with the tools DreamCore offers: reads a listed skill, writes the spec, makes a sprite and uses it, suggests next steps', () => {
    const files = new Map<string, string>();
    const offer = { tools: ['Skill', 'mcp__dreamcore__generate_image', 'mcp__dreamcore__suggest_next_steps'], skills: ['deep-research', 'game-loop'] };
    const run = converse(files, 'Make a space shooter', [], new Set(), offer);
    expect(run.calls).toEqual(['Skill', 'Write', 'mcp__dreamcore__generate_image', 'Write', 'mcp__dreamcore__suggest_next_steps']);
    const skillCall = run.messages.flatMap((m) => (typeof m.content === 'string' ? [] : m.content)).find((b) => b.name === 'Skill');
    expect(skillCall?.input).toEqual({ skill: 'game-loop' });
    expect(files.get('SPEC.md')).toMatch(/^# Star Blaster\n/);
    expect(files.get('index.html')).toContain('"/user-assets/u1/hero_1a2b3c4d.png"');
    expect(run.text).toContain('Star Blaster');
    // A follow-up edits and suggests again; without DreamCore's skill listed (only the CLI's own), no skill is read.
    const next = converse(files, 'make it faster', run.messages, new Set(), { ...offer, skills: ['deep-research'] });
    expect(next.calls).toEqual(['Read', 'Edit', 'mcp__dreamcore__suggest_next_steps']);
    // Without the tools on offer (a plain CLI), none of them is called: the real API would refuse it.
    const plain = converse(new Map(), 'Make a space shooter');
    expect(plain.calls).toEqual(['Write', 'Write']);
  });

  it('uses history when a Read returns the "unchanged" stub', () => {
    const files = new Map<string, string>([['index.html', buildGame('breakout')]]);
    const first = converse(files, 'make it pink'); // Read + Edit
    // Same process, so the CLI remembers the Read: the next Read gets the stub, and the Edit must still match.
    const stubbed = converse(files, 'faster please', first.messages, first.read);
    expect(stubbed.calls).toEqual(['Read', 'Edit']);
    const stub = stubbed.messages.flatMap((m) => (typeof m.content === 'string' ? [] : m.content));
    expect(stub.some((b) => b.type === 'tool_result' && String(b.content).startsWith('Wasted call'))).toBe(true);
    expect(themeOf(files.get('index.html'))).toMatchObject({ palette: 'pink', speed: 1.5 });
  });

  it('recovers when Write is refused for an existing, unread file', () => {
    const files = new Map<string, string>([['index.html', '<h1>an old page</h1>\n']]);
    const run = converse(files, 'Make a breakout game');
    expect(run.calls).toEqual(['Write', 'Write', 'Read', 'Write']);
    expect(files.get('index.html')).toContain('content="breakout"');
    expect(run.text).toContain('Brick Breaker');
  });

  it('a change request with no game yet builds one; a different kind rebuilds keeping the colors', () => {
    const files = new Map<string, string>();
    const run = converse(files, 'make it faster');
    // (nothing to change yet: a new game, made the whole way, spec included)
    expect(run.calls).toEqual(['Read', 'Write', 'Write']);
    expect(files.has('SPEC.md')).toBe(true);
    expect(files.get('index.html')).toContain('content="catcher"');

    files.set('index.html', buildGame('jumper', { theme: applyChange(defaultTheme(), 'purple') }));
    const switched = converse(files, 'turn it into a snake game instead');
    // (a fresh session: the change request makes it look before writing)
    expect(switched.calls).toEqual(['Read', 'Write']);
    expect(files.get('index.html')).toContain('content="snake"');
    expect(themeOf(files.get('index.html')).palette).toBe('purple');
  });

  it('a style section after "---" is not read as the request, and its palette colours the game', () => {
    const palette = ['#f4f1ea', '#2b2d42', '#ef233c', '#8d99ae', '#edf2f4'];
    // The guideline names words the request parser knows ("space" → shooter, "blocky" → breakout, "dark" → night).
    const prompt = `Make a catch game\n\n---\nVisual style: Minimal, generous empty space, blocky, dark accents.\nPalette: ${palette.join(', ')}.\nFlat fills.`;
    expect(splitStyle(prompt)).toEqual({ request: 'Make a catch game', palette });
    const files = new Map<string, string>();
    const run = converse(files, prompt);
    expect(run.calls).toEqual(['Write', 'Write']);
    expect(files.get('index.html')).toContain('content="catcher"');
    const theme = themeOf(files.get('index.html'));
    expect(theme).toMatchObject({ palette: 'style', bg: '#f4f1ea', fg: '#2b2d42' });
    expect(palette).toEqual(expect.arrayContaining([theme.player, theme.enemy])); // already stand out on the paper
    // A pastel on a pastel background is darkened toward the text colour until it shows.
    const kawaii = styleTheme(['#ffd1dc', '#bde0fe', '#caffbf', '#fff1a8', '#5a3e4b']);
    expect(kawaii.fg).toBe('#5a3e4b');
    for (const c of [kawaii.player, kawaii.enemy, kawaii.accent]) expect(['#bde0fe', '#caffbf', '#fff1a8']).not.toContain(c);
    // Without a section nothing changes; a section without a palette keeps the default colours.
    expect(splitStyle('Make a game\n--- not a section')).toEqual({ request: 'Make a game\n--- not a section', palette: null });
    expect(splitStyle('Make a game\n---\nno colours here').palette).toBeNull();
    // Dark backgrounds get the lightest colour as text.
    expect(styleTheme(['#0d0221', '#ff2a6d', '#05d9e8', '#d1f7ff', '#ff9e00']).fg).toBe('#d1f7ff');
  });
});
