/**
 * Demo mode's "model": a script for the scripted model server that builds a real, playable single-file canvas game
 * (games.ts) with the CLI's Write tool, and on a follow-up Reads it and Edits a visible change (colors, speed) into it.
 *
 * It speaks as the product would to someone who does not code: one sentence when it starts building, and a short
 * summary at the end (what the game is, how to play, what to ask for next). Looking at the file, retrying a refused
 * write and editing the theme happen without words (the chat folds those steps away), and no sentence is repeated.
 *
 * It does what the standing instructions ask of a real model, with whatever the request offers (as the real API, it
 * can only call tools the request lists): on a new game it reads a skill (the Skill tool, when the CLI lists
 * DreamCore's), writes SPEC.md with the game's title, makes a sprite with DreamCore's image tool and puts it in the
 * game, and ends every turn with three suggestions (the suggestion tool). Those steps are silent too.
 *
 * It is stateless like every script: each request's history says where we are (the last user message is either the
 * prompt or the result of our last tool call), so it survives retries, fallbacks and `--resume`.
 */
import { PUBLISH_INFO_REQUEST } from '../agent/publish-info.js';
import { promptText, type MessageParam, type ScriptFunction, type ToolResultInfo, type Turn } from '../testkit/model-server.js';
import {
  applyChange,
  buildGame,
  DEFAULT_KIND,
  defaultTheme,
  detectLang,
  explicitGameKind,
  GAME_INFO,
  gameTitle,
  paletteName,
  splitStyle,
  styleTheme,
  wantsChange,
  type GameKind,
  type GameTheme,
  type Lang,
} from './games.js';

export interface DemoScriptOptions {
  /** Milliseconds between streamed chunks (demo mode looks alive at ~15; tests want 0). */
  chunkDelayMs?: number;
  /** Milliseconds before each reply starts ("thinking"). */
  delayMs?: number;
  /**
   * Use what DreamCore offers besides the file tools (a skill, the spec, the image tool, suggestions); default true.
   * false writes the game in one step, for tests about something else that want fewer model round trips.
   */
  extras?: boolean;
}

const FILE = 'index.html';
const THEME_LINE = /const THEME = (\{[^\n]*?\});/;
const KIND_META = /<meta name="dreamcore-demo" content="([a-z]+)">/;
/** A runaway guard: a demo answer never needs more tool calls than this. */
const MAX_STEPS = 8;

export function createDemoScript(options: DemoScriptOptions = {}): ScriptFunction {
  return (request, ctx) => {
    const timing: Pick<Turn, 'chunkDelayMs' | 'delayMs'> = {
      chunkDelayMs: options.chunkDelayMs ?? 0,
      delayMs: options.delayMs ?? 0,
    };
    if (ctx.prompt.startsWith(PUBLISH_INFO_REQUEST)) return { ...publishInfoTurn(request.messages, ctx.prompt, ctx.toolResults), ...timing };
    const offer = options.extras === false ? { tools: new Set<string>(), skills: [], spec: false } : offerOf(request);
    return { ...decide(request.messages, ctx.prompt, ctx.toolResults, offer), ...timing };
  };
}

/** The demo model with no artificial delays. */
export const demoScript: ScriptFunction = createDemoScript();

/** The demo model writing each game in one step (no skill, spec, image or suggestions): for tests about other things. */
export const plainDemoScript: ScriptFunction = createDemoScript({ extras: false });

const SPEC = 'SPEC.md';
const SKILL_TOOL = 'Skill';
const IMAGE_TOOL = 'mcp__dreamcore__generate_image';
const SUGGEST_TOOL = 'mcp__dreamcore__suggest_next_steps';
/** The skill a new game reads first, when the CLI lists it (DreamCore's skills are installed; the CLI's own are not ours). */
const FIRST_SKILL = 'game-loop';

/** What this request offers: tool names, and the skills the CLI lists to the model. */
interface Offer {
  tools: Set<string>;
  skills: string[];
  /** Keep SPEC.md (false: the plain script writes only the game). */
  spec: boolean;
}

function offerOf(request: { tools?: unknown[]; messages: MessageParam[] }): Offer {
  const tools = new Set((request.tools ?? []).map((tool) => String((tool as { name?: unknown })?.name)));
  const skills: string[] = [];
  const listing = /The following skills are available[^\n]*\n((?:\s*- [^\n]+\n?)+)/.exec(request.messages.map(textOf).join('\n'));
  for (const line of listing?.[1]?.split('\n') ?? []) {
    const name = /^\s*- ([a-z0-9][a-z0-9-]*):/.exec(line)?.[1];
    if (name) skills.push(name);
  }
  return { tools, skills, spec: true };
}

function textOf(message: MessageParam): string {
  return typeof message.content === 'string' ? message.content : message.content.map((block) => (typeof block.text === 'string' ? block.text : '')).join('\n');
}

function decide(messages: MessageParam[], fullPrompt: string, results: ToolResultInfo[], offer: Offer): Turn {
  const { request: prompt, palette } = splitStyle(fullPrompt);
  const styled = palette ? styleTheme(palette) : undefined;
  const lang = detectLang(prompt);
  const promptAt = lastPromptIndex(messages);
  const earlier = messages.slice(0, promptAt);
  const thisRun = messages.slice(promptAt + 1);
  const kind = explicitGameKind(prompt);
  const ja = lang === 'ja';

  if (thisRun.filter((m) => m.role === 'assistant').length >= MAX_STEPS) {
    return {
      text: ja ? 'うまくいかなかったので、ここで止めました。もう一度お願いできますか？' : 'That did not work out, so I stopped here. Could you ask me again?',
    };
  }

  const result = results[0];
  if (!result) {
    // A follow-up, or a change request in a fresh session: look at what is there first (Write would refuse an
    // unread file anyway). A plain "make me a game" writes straight away.
    const followUp = earlier.some((m) => m.role === 'assistant');
    if (followUp || wantsChange(prompt)) {
      return { toolUses: [{ name: 'Read', input: { file_path: FILE } }] };
    }
    return nextCreationStep(thisRun, offer, kind ?? DEFAULT_KIND, prompt, lang, styled);
  }

  switch (result.name) {
    case SKILL_TOOL:
    case IMAGE_TOOL:
      return nextCreationStep(thisRun, offer, kind ?? DEFAULT_KIND, prompt, lang, styled);
    case SUGGEST_TOOL:
      return { text: finalReply(thisRun, lang) };
    case 'Read': {
      const noGameYet = result.isError || !KIND_META.test(knownFile(messages) ?? '');
      // A first request that sounded like a change ("a snake game with neon colors") in a project with no game yet
      // is a new game, made the whole way (skill, spec, sprite).
      if (noGameYet && !earlier.some((m) => m.role === 'assistant') && !writeWasRefusedIn(thisRun)) {
        return nextCreationStep(thisRun, offer, kind ?? DEFAULT_KIND, prompt, lang, styled);
      }
      if (result.isError) return writeGame(kind ?? DEFAULT_KIND, prompt, lang, 'new', styled, spriteOf(thisRun));
      // The CLI may answer a repeated Read with "file unchanged since your last Read", so what we know of the file
      // comes from the whole history (our Writes and Edits, earlier Reads), not only from this result.
      const file = knownFile(messages) ?? '';
      const current = KIND_META.exec(file)?.[1] as GameKind | undefined;
      const themeLine = THEME_LINE.exec(file);
      const writeWasRefused = writeWasRefusedIn(thisRun);
      if (writeWasRefused || !themeLine || !current || (kind !== null && kind !== current)) {
        // A different kind of game keeps the colors and speed the user already chose. A write that was refused
        // (the file had not been read) is simply done again: its sentence was said already.
        const theme = styled ?? (themeLine ? parseTheme(themeLine[1]!) : undefined);
        return writeGame(kind ?? current ?? DEFAULT_KIND, prompt, lang, writeWasRefused ? 'silent' : current ? 'switch' : 'new', theme, spriteOf(thisRun));
      }
      const theme = parseTheme(themeLine[1]!);
      const next = applyChange(theme, prompt);
      return {
        toolUses: [
          {
            name: 'Edit',
            input: { file_path: FILE, old_string: themeLine[0], new_string: `const THEME = ${JSON.stringify(next)};` },
          },
        ],
      };
    }
    case 'Write': {
      if (String(result.input?.file_path ?? '').endsWith(SPEC)) return nextCreationStep(thisRun, offer, kind ?? DEFAULT_KIND, prompt, lang, styled);
      if (result.isError) {
        // The CLI refuses to overwrite a file this session has not read: read it, then write again.
        if (!toolCalls(thisRun).some((c) => c.name === 'Read')) return { toolUses: [{ name: 'Read', input: { file_path: FILE } }] };
        return { text: failure(lang, result.content) };
      }
      return suggestOrReply(thisRun, offer, lang, 'created');
    }
    case 'Edit': {
      if (result.isError) {
        // Our Edit only follows a Read, so overwriting is allowed: rebuild the game of the same kind.
        const current = KIND_META.exec(knownFile(messages) ?? '')?.[1] as GameKind | undefined;
        if (!toolCalls(thisRun).some((c) => c.name === 'Read' && !c.isError)) return { text: failure(lang, result.content) };
        return writeGame(kind ?? current ?? DEFAULT_KIND, prompt, lang, 'switch', undefined, spriteOf(thisRun));
      }
      return suggestOrReply(thisRun, offer, lang, 'changed');
    }
    default:
      return { text: ja ? 'できました。' : 'All done.' };
  }
}

/**
 * A new game, one step per reply, decided by what this run has done so far: read a skill, write the spec, make a
 * sprite, write the game. Each step happens only when the request offers its tool; the run's one sentence comes with
 * its first step.
 */
function nextCreationStep(thisRun: MessageParam[], offer: Offer, kind: GameKind, prompt: string, lang: Lang, theme?: GameTheme): Turn {
  const calls = toolUses(thisRun);
  const intro = (turn: Turn): Turn => (calls.some((c) => c.name !== 'Read') ? turn : { ...introSentence(kind, prompt, lang, 'new'), ...turn });
  if (offer.tools.has(SKILL_TOOL) && offer.skills.includes(FIRST_SKILL) && !calls.some((c) => c.name === SKILL_TOOL)) {
    return intro({ toolUses: [{ name: SKILL_TOOL, input: { skill: FIRST_SKILL } }] });
  }
  if (offer.spec && !calls.some((c) => c.name === 'Write' && String(c.input.file_path).endsWith(SPEC))) {
    return intro({ toolUses: [{ name: 'Write', input: { file_path: SPEC, content: specFor(kind, gameTitle(prompt, kind, lang), lang) } }] });
  }
  if (offer.tools.has(IMAGE_TOOL) && !calls.some((c) => c.name === IMAGE_TOOL)) {
    return intro({ toolUses: [{ name: IMAGE_TOOL, input: { prompt: HERO_PROMPTS[kind], style: 'kawaii' } }] });
  }
  return writeGame(kind, prompt, lang, calls.some((c) => c.name !== 'Read') ? 'silent' : 'new', theme, spriteOf(thisRun));
}

/** The hero each kind of game gets from the image tool. */
const HERO_PROMPTS: Record<GameKind, string> = {
  shooter: 'a cute little spaceship, top view, facing up',
  jumper: 'a cheerful round hero character, side view',
  snake: 'a friendly green snake head, top view',
  breakout: 'a shiny star mascot',
  catcher: 'a happy basket character with a smile',
};

function specFor(kind: GameKind, title: string, lang: Lang): string {
  const info = GAME_INFO[kind];
  return lang === 'ja'
    ? `# ${title}\n\n${info.what.ja}。キーボードでもスマホのタップでも遊べます。\n\n## 操作\n${info.help.ja}\n\n## ルール\n- スタート: スペースかタップ\n- スコアとベストスコアを表示\n\n## 最後の変更\n- 最初のバージョン\n`
    : `# ${title}\n\n${info.what.en}, playable with a keyboard or by tapping on a phone.\n\n## Controls\n${info.help.en}\n\n## Rules\n- Start: Space or tap\n- Score and best score are shown\n\n## Last change\n- First version\n`;
}

const SUGGESTIONS: Record<'created' | 'changed', Record<Lang, string[]>> = {
  created: { en: ['Make it faster', 'Change the colors', 'Add more enemies'], ja: ['もっと速くして', '色を変えて', '敵を増やして'] },
  changed: { en: ['Make it a bit slower', 'Try a pink theme', 'Add a power-up'], ja: ['少しゆっくりにして', 'ピンク色にして', 'パワーアップを追加して'] },
};

/** The end of a turn: three suggestions when the tool is offered (and not yet called), then the reply. */
function suggestOrReply(thisRun: MessageParam[], offer: Offer, lang: Lang, what: 'created' | 'changed'): Turn {
  if (offer.tools.has(SUGGEST_TOOL) && !toolUses(thisRun).some((c) => c.name === SUGGEST_TOOL)) {
    return { toolUses: [{ name: SUGGEST_TOOL, input: { suggestions: SUGGESTIONS[what][lang] } }] };
  }
  return { text: finalReply(thisRun, lang) };
}

/** What the user reads at the end: the game made, or the change applied, in this run. */
function finalReply(thisRun: MessageParam[], lang: Lang): string {
  const calls = toolUses(thisRun);
  const edit = calls.findLast((c) => c.name === 'Edit');
  const write = calls.findLast((c) => c.name === 'Write' && String(c.input.file_path).endsWith(FILE));
  if (edit && (!write || calls.indexOf(edit) > calls.indexOf(write))) {
    const before = THEME_LINE.exec(String(edit.input.old_string ?? ''))?.[1];
    const after = THEME_LINE.exec(String(edit.input.new_string ?? ''))?.[1];
    return summarizeChange(before ? parseTheme(before) : defaultTheme(), after ? parseTheme(after) : defaultTheme(), lang);
  }
  return summarizeGame(typeof write?.input.content === 'string' ? write.input.content : '', lang);
}

/** Tool calls (name and input) made in a stretch of history, in order. */
function toolUses(messages: MessageParam[]): { name: string; input: Record<string, unknown> }[] {
  const uses: { name: string; input: Record<string, unknown> }[] = [];
  for (const message of messages) {
    if (message.role !== 'assistant' || typeof message.content === 'string') continue;
    for (const block of message.content) {
      if (block.type === 'tool_use') uses.push({ name: String(block.name), input: (block.input ?? {}) as Record<string, unknown> });
    }
  }
  return uses;
}

/** Whether a Write of the game was refused in this run (the CLI refuses to overwrite a file it has not read). */
function writeWasRefusedIn(thisRun: MessageParam[]): boolean {
  return toolCalls(thisRun).some((c) => c.name === 'Write' && c.isError);
}

/** The URL of the sprite the image tool made in this run, if it did. */
function spriteOf(thisRun: MessageParam[]): string | undefined {
  const image = toolCalls(thisRun).find((c) => c.name === IMAGE_TOOL && !c.isError);
  return image ? /(\/user-assets\/\S+?)(?:[\s.,)]*$|\s)/.exec(image.content)?.[1] : undefined;
}

/** What the write says first: a new game, one that replaces another kind, or nothing (a refused write done again). */
type WriteIntro = 'new' | 'switch' | 'silent';

function introSentence(kind: GameKind, prompt: string, lang: Lang, intro: 'new' | 'switch'): { text: string } {
  const title = gameTitle(prompt, kind, lang);
  const what = GAME_INFO[kind].what[lang];
  return {
    text:
      lang === 'ja'
        ? `${intro === 'switch' ? '新しいゲームに作り直します。' : ''}「${title}」を作っています。キーボードでもタッチでも遊べる${what}です。`
        : `${intro === 'switch' ? 'Starting over with a new game. ' : ''}Building “${title}”: ${what} you can play with the keyboard or by touch.`,
  };
}

function writeGame(kind: GameKind, prompt: string, lang: Lang, intro: WriteIntro, theme?: GameTheme, sprite?: string): Turn {
  const title = gameTitle(prompt, kind, lang);
  return {
    ...(intro === 'silent' ? {} : introSentence(kind, prompt, lang, intro)),
    toolUses: [{ name: 'Write', input: { file_path: FILE, content: buildGame(kind, { title, lang, theme, sprite }) } }],
  };
}

function summarizeGame(html: string, lang: Lang): string {
  const kind = (KIND_META.exec(html)?.[1] as GameKind | undefined) ?? DEFAULT_KIND;
  const title = /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? GAME_INFO[kind].title[lang];
  const help = GAME_INFO[kind].help[lang];
  return lang === 'ja'
    ? `できました！「${unescapeHtml(title)}」がプレビューで遊べます。\n\n` +
        `- 操作：${help}\n- スペースキーかタップでスタート。ゲームオーバーのあとも同じ操作でもう一度遊べます\n- スコアとベストスコアが上に出ます\n\n` +
        '「色を赤にして」「もっと速くして」のように言ってもらえれば変えられます。'
    : `Your game is ready! “${unescapeHtml(title)}” is in the preview.\n\n` +
        `- How to play: ${help}\n- Press Space or tap to start, and again to play another round\n- Your score and best score are at the top\n\n` +
        'Ask me things like “make it red” or “make it faster” to change it.';
}

function summarizeChange(before: GameTheme, after: GameTheme, lang: Lang): string {
  const parts: string[] = [];
  if (after.palette !== before.palette) {
    const name = paletteName(after.palette, lang);
    parts.push(lang === 'ja' ? `配色を${name}系に変えました` : `switched the colors to ${name}`);
  }
  if (after.speed !== before.speed) {
    const factor = Math.round((after.speed / before.speed) * 100) / 100;
    parts.push(
      lang === 'ja'
        ? `ゲームのスピードを${factor}倍にしました（今は${after.speed}倍速）`
        : `made the game ${factor > 1 ? 'faster' : 'slower'} (${factor}×, now ${after.speed}× speed)`,
    );
  }
  if (parts.length === 0) parts.push(lang === 'ja' ? '見た目を少し整えました' : 'tidied up the look');
  return lang === 'ja'
    ? `変更しました！${parts.join('、')}。プレビューで遊んでみてください。`
    : `Done! I ${parts.join(' and ')}. Give it a try in the preview.`;
}

function failure(lang: Lang, detail: string): string {
  const short = detail.replace(/\s+/g, ' ').slice(0, 160);
  return lang === 'ja'
    ? `ゲームを変更できませんでした（${short}）。もう一度お願いできますか？`
    : `I could not change the game (${short}). Could you ask me again?`;
}

// ---------------------------------------------------------------- history helpers

/** Index of the latest user message that carries prompt text (not just tool results or reminders). */
function lastPromptIndex(messages: MessageParam[]): number {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]!.role === 'user' && promptText([messages[i]!]) !== '') return i;
  }
  return -1;
}

/**
 * The latest content of index.html that the conversation shows: a successful Write's content, a successful Edit
 * applied to what we knew, or a Read's text (line numbers removed). Null when the history never showed it.
 */
function knownFile(messages: MessageParam[]): string | null {
  const uses = new Map<string, { name: string; input: Record<string, unknown> }>();
  let content: string | null = null;
  for (const message of messages) {
    if (typeof message.content === 'string') continue;
    for (const block of message.content) {
      if (block.type === 'tool_use' && block.id) {
        uses.set(block.id, { name: String(block.name), input: (block.input ?? {}) as Record<string, unknown> });
        continue;
      }
      if (block.type !== 'tool_result' || block.is_error === true) continue;
      const use = uses.get(block.tool_use_id ?? '');
      if (!use || !String(use.input.file_path ?? '').endsWith(FILE)) continue;
      if (use.name === 'Write' && typeof use.input.content === 'string') content = use.input.content;
      if (use.name === 'Edit' && content !== null) {
        content = content.replace(String(use.input.old_string ?? ''), () => String(use.input.new_string ?? ''));
      }
      if (use.name === 'Read') {
        const text = resultText(block.content);
        if (/^\s*\d+\t/.test(text))
          content = text
            .split('\n')
            .map((line) => line.replace(/^\s*\d+\t/, ''))
            .join('\n');
      }
    }
  }
  return content;
}

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((c: { text?: unknown }) => (typeof c?.text === 'string' ? c.text : '')).join('');
}

interface ToolCall {
  name: string;
  isError: boolean;
  content: string;
}

/** Tool calls in a stretch of history with how they ended. */
function toolCalls(messages: MessageParam[]): ToolCall[] {
  const names = new Map<string, string>();
  const calls: ToolCall[] = [];
  for (const message of messages) {
    if (typeof message.content === 'string') continue;
    for (const block of message.content) {
      if (block.type === 'tool_use' && block.id && block.name) names.set(block.id, block.name);
      if (block.type === 'tool_result') {
        calls.push({ name: names.get(block.tool_use_id ?? '') ?? '', isError: block.is_error === true, content: resultText(block.content) });
      }
    }
  }
  return calls;
}

function parseTheme(json: string): GameTheme {
  try {
    return { ...defaultTheme(), ...(JSON.parse(json) as Partial<GameTheme>) };
  } catch {
    return defaultTheme();
  }
}

function unescapeHtml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"' })[e]!);
}

// ---------------------------------------------------------------- publish info

const DEMO_TAGS: Record<GameKind, Record<Lang, string[]>> = {
  shooter: { en: ['shooter', 'space', 'arcade'], ja: ['シューティング', '宇宙', 'アーケード'] },
  jumper: { en: ['action', 'jumping', 'runner'], ja: ['アクション', 'ジャンプ', 'ランゲーム'] },
  snake: { en: ['snake', 'classic', 'arcade'], ja: ['スネーク', 'レトロ', 'アーケード'] },
  breakout: { en: ['breakout', 'bricks', 'classic'], ja: ['ブロックくずし', 'レトロ', 'カジュアル'] },
  catcher: { en: ['catch', 'casual', 'arcade'], ja: ['キャッチ', 'カジュアル', 'アーケード'] },
};

/**
 * A publish-info request (agent/publish-info.ts): read SPEC.md, then index.html, then answer with the JSON the request
 * asks for, in the language it names (Japanese or English; the demo speaks those two). Nothing is written.
 */
function publishInfoTurn(messages: MessageParam[], prompt: string, results: ToolResultInfo[]): Turn {
  const lang: Lang = /^language: ja$/m.test(prompt) ? 'ja' : 'en';
  const last = results[0];
  if (!last) return { toolUses: [{ name: 'Read', input: { file_path: SPEC } }] };
  if (last.name === 'Read' && String(last.input?.file_path ?? '').endsWith(SPEC)) return { toolUses: [{ name: 'Read', input: { file_path: FILE } }] };
  const kind = (KIND_META.exec(knownFile(messages) ?? '')?.[1] as GameKind | undefined) ?? DEFAULT_KIND;
  const info = GAME_INFO[kind];
  const specTitle = /^#\s+(.+)$/m.exec(readResultOf(messages, SPEC) ?? '')?.[1]?.trim();
  const answer = {
    title: specTitle || info.title[lang],
    description:
      lang === 'ja'
        ? `${info.what.ja}のゲームです。キーボードでもスマホのタップでも遊べます。ベストスコアをめざそう！`
        : `${info.what.en.charAt(0).toUpperCase()}${info.what.en.slice(1)} you can play with a keyboard or by tapping on a phone. Chase your best score!`,
    howToPlay: info.help[lang],
    tags: DEMO_TAGS[kind][lang],
  };
  return { text: JSON.stringify(answer) };
}

/** What a successful Read of `file` showed, line numbers removed (null when it was not read). */
function readResultOf(messages: MessageParam[], file: string): string | null {
  const reads = new Set<string>();
  let text: string | null = null;
  for (const message of messages) {
    if (typeof message.content === 'string') continue;
    for (const block of message.content) {
      if (block.type === 'tool_use' && block.id && block.name === 'Read' && String((block.input as { file_path?: unknown })?.file_path ?? '').endsWith(file))
        reads.add(block.id);
      if (block.type === 'tool_result' && block.is_error !== true && reads.has(block.tool_use_id ?? '')) {
        text = resultText(block.content)
          .split('\n')
          .map((line) => line.replace(/^\s*\d+\t/, ''))
          .join('\n');
      }
    }
  }
  return text;
}
