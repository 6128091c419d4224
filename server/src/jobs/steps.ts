/**
 * A generation's progress as short steps a person understands ("Building your game", "Adding sound"), made from the
 * agent's tool calls. Each `progress` event carries the step's key (`step`, for a client's own words), its text in
 * the user's language (`message`, for V2 clients) and the tool call itself (`detail`, e.g. "Write index.html"), which
 * the chat folds away behind "details".
 */

export type StepKey =
  'starting' | 'looking' | 'planning' | 'building' | 'improving' | 'graphics' | 'sound' | 'checking' | 'working' | 'reconnecting' | 'saving';
export type StepLanguage = 'en' | 'ja';

const WORDS: Record<StepLanguage, Record<StepKey, string>> = {
  en: {
    starting: 'Getting started',
    looking: 'Looking at your game',
    planning: 'Planning the changes',
    building: 'Building your game',
    improving: 'Improving your game',
    graphics: 'Adding pictures',
    sound: 'Adding sound',
    checking: 'Checking that it works',
    working: 'Working on it',
    reconnecting: 'Reconnecting to the AI',
    saving: 'Saving this version',
  },
  ja: {
    starting: '準備しています',
    looking: 'ゲームを確認しています',
    planning: '変更を考えています',
    building: 'ゲームを作っています',
    improving: 'ゲームを改良しています',
    graphics: '画像を加えています',
    sound: 'サウンドを加えています',
    checking: '動作を確かめています',
    working: '作業しています',
    reconnecting: 'AIサービスに再接続しています',
    saving: 'バージョンを保存しています',
  },
};

const AUDIO_FILE = /\.(mp3|wav|ogg|m4a)$/i;
const IMAGE_FILE = /\.(png|jpe?g|gif|webp|svg)$/i;
const AUDIO_CODE = /AudioContext|createOscillator|new Audio\(|\.play\(\)|<audio/;
const TOOL_STEPS: Record<string, StepKey> = {
  Read: 'looking',
  Glob: 'looking',
  Grep: 'looking',
  LS: 'looking',
  WebFetch: 'looking',
  WebSearch: 'looking',
  TodoWrite: 'planning',
  Task: 'planning',
  Bash: 'checking',
  // DreamCore's own: reading a skill is planning; the image tool draws.
  Skill: 'planning',
  mcp__dreamcore__generate_image: 'graphics',
};
const WRITING = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit']);

/** The user's language as far as the server can tell: Japanese when the request has kana or kanji. */
export function requestLanguage(prompt: string): StepLanguage {
  return /[\u3040-\u30ff\u3400-\u9fff]/.test(prompt) ? 'ja' : 'en';
}

export function stepText(step: StepKey, lang: StepLanguage): string {
  return WORDS[lang][step];
}

/**
 * The step a tool call belongs to. Writing code is "building" the first time in a project without a game yet and
 * "improving" afterwards; writing sound or pictures (files, or code that plays audio) says so.
 */
export function stepForTool(name: string, input: unknown, state: { hasGame: boolean }): StepKey {
  const args = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  const file = typeof args.file_path === 'string' ? args.file_path : typeof args.path === 'string' ? args.path : '';
  if (WRITING.has(name)) {
    const code = [args.content, args.new_string, ...(Array.isArray(args.edits) ? args.edits.map((e) => (e as { new_string?: unknown })?.new_string) : [])]
      .filter((v): v is string => typeof v === 'string')
      .join('\n');
    if (AUDIO_FILE.test(file) || AUDIO_CODE.test(code)) return 'sound';
    if (IMAGE_FILE.test(file)) return 'graphics';
    return state.hasGame ? 'improving' : 'building';
  }
  if (/image/i.test(name)) return 'graphics';
  return TOOL_STEPS[name] ?? 'working';
}

/**
 * What a tool call did, as a kind the app has words for (`chat.tool_<kind>` in the catalogue), so the folded details
 * read "Wrote index.html" / 「index.html」を作りました, not the tool's own name.
 */
export type ToolKind = 'read' | 'write' | 'edit' | 'search' | 'run' | 'web' | 'plan' | 'image' | 'ideas' | 'other';
const TOOL_KINDS: Record<string, ToolKind> = {
  Read: 'read',
  Write: 'write',
  Edit: 'edit',
  MultiEdit: 'edit',
  NotebookEdit: 'edit',
  Glob: 'search',
  Grep: 'search',
  LS: 'search',
  Bash: 'run',
  WebFetch: 'web',
  WebSearch: 'web',
  TodoWrite: 'plan',
  Task: 'plan',
  Skill: 'plan',
};
/** The kinds whose words name the file (the others say what was done without it). */
const FILE_KINDS = new Set<ToolKind>(['read', 'write', 'edit']);

/** The tool call as a kind and, for reading and writing, the file's plain name (no folders): `{ tool, file }`. */
export function toolStep(name: string, input: unknown): { tool: ToolKind; file?: string } {
  // DreamCore's own tools (over MCP, `mcp__dreamcore__…`): drawing a picture, offering the next ideas.
  const tool = TOOL_KINDS[name] ?? (/image/i.test(name) ? 'image' : /suggest_next_steps$/.test(name) ? 'ideas' : 'other');
  const args = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  const path = typeof args.file_path === 'string' ? args.file_path : typeof args.notebook_path === 'string' ? args.notebook_path : '';
  const file = path.split('/').pop() ?? '';
  return FILE_KINDS.has(tool) && file ? { tool, file: file.length > 80 ? `${file.slice(0, 80)}…` : file } : { tool };
}

/** The tool call as a short line for V2 clients (`detail`): "Write index.html", "Bash npm test". */
export function toolDetail(name: string, input: unknown): string {
  const args = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  const target = [args.file_path, args.path, args.pattern, args.command, args.url].find((v) => typeof v === 'string') as string | undefined;
  const shown = target ? (target.includes('/') && target === args.file_path ? target.split('/').pop()! : target) : '';
  return shown ? `${name} ${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}` : name;
}
