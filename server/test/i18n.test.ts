/**
 * The browser app's catalogue (public/js/i18n, docs/i18n.md): every key in every language with the same
 * placeholders, no words for people hard-coded in the app's code or HTML, and the lookup itself (plurals, numbers,
 * the language chosen and remembered). Pure Node: no browser, no server.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { scanHtml, scanScript, strayWords } from './support/i18n-scan.js';

const PUBLIC = fileURLToPath(new URL('../../public/', import.meta.url));
const CATALOGUE_DIR = join(PUBLIC, 'js', 'i18n', 'areas');

type Text = string | Record<string, string>;
type Area = Record<string, Record<string, Text>>;

function scripts(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return path === CATALOGUE_DIR ? [] : scripts(path);
    return path.endsWith('.js') ? [path] : [];
  });
}

const placeholders = (text: Text) =>
  [...new Set((typeof text === 'string' ? [text] : Object.values(text)).flatMap((form) => [...form.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)))].sort();

describe('the hard-coded string scan', () => {
  const found = (code: string) => scanScript('x.js', code).map((f) => f.text);

  it('finds words put on screen without the catalogue', () => {
    expect(found(`h('p', {}, 'Hello there')`)).toEqual(['Hello there']);
    expect(found(`h('button', { title: 'Open the game', class: 'small ghost' }, '⟳')`)).toEqual(['Open the game']);
    expect(found('el.textContent = `Saved ${n} files`;')).toHaveLength(1);
    expect(found(`button.textContent = busy ? 'Saving…' : t('common.save');`)).toEqual(['Saving…']);
    expect(found(`toast('Game deleted.', 'success')`)).toEqual(['Game deleted.']);
    expect(found(`input.setAttribute('placeholder', 'Your name')`)).toEqual(['Your name']);
    expect(found(`confirmDialog({ title: 'Delete?', message: x, confirmLabel: 'Delete' })`)).toEqual(['Delete?', 'Delete']);
    expect(found(`throw new ApiError('Network error', 0, null)`)).toEqual(['Network error']);
    expect(found(`list.append(h('li', {}, x), ' and more')`)).toEqual([' and more']);
    expect(found(`function ask({ cancelLabel = 'Cancel' }) {}`)).toEqual(['Cancel']);
    // Japanese, Chinese, Korean anywhere, even outside the places above.
    expect(found(`const SUGGESTIONS = ['ブロック崩しを作って'];`)).toEqual(['ブロック崩しを作って']);
    expect(found(`const names = { zh: '简体中文', ko: '한국어' };`)).toHaveLength(2);
    // Shown through the window or the document, and what the phone's share sheet says.
    expect(found(`if (window.confirm('Delete it?')) go();`)).toEqual(['Delete it?']);
    expect(found(`window.alert('Saved');`)).toEqual(['Saved']);
    expect(found(`el.append(document.createTextNode('Ready'));`)).toEqual(['Ready']);
    expect(found(`select.add(new Option('Pixel art', 'pixel'));`)).toEqual(['Pixel art']);
    expect(found(`navigator.share({ title, text: 'Play my game', url });`)).toEqual(['Play my game']);
    // A sentence anywhere: in a variable, a table or a return value before it reaches the screen.
    expect(found(`const empty = 'Nothing here yet'; h('p', {}, empty);`)).toEqual(['Nothing here yet']);
    expect(found(`const WORDS = { saved: 'Saved just now' };`)).toEqual(['Saved just now']);
    expect(found(`function label() { return \`Made by \${name} today\`; }`)).toHaveLength(1);
  });

  it('leaves alone what is not words for people: classes, ids, URLs, types, names that do not change', () => {
    const code = `
      h('div', { class: 'project-card small ghost', id: 'demo-banner', dataset: { testid: 'chat-log', action: 'use-asset' } });
      h('a', { href: '/api/projects/' + id, target: '_blank', rel: 'noopener' }, t('projects.open'));
      h('span', { class: 'brand-name' }, 'DreamCore');
      h('span', {}, \`\${p}%\`, ' · ', '⟳', '×', '◆');
      document.title = \`\${name} · DreamCore\`;
      socket.send({ type: 'renameProject', projectId, name });
      api.get(\`/api/assets?currentProjectId=\${encodeURIComponent(projectId)}\`);
      toast(t('assets.added', { name }), 'success', 6000);
      addMessage('system', t('chat.cancelled'));
      const form = new FormData(); form.append('file', file, file.name);
      status.dataset.state = 'loading';
      el.classList.add('has-image');
      console.warn('[jobs] events are missing');
      h('iframe', { allow: 'autoplay; fullscreen; gamepad', sandbox: 'allow-scripts allow-same-origin allow-pointer-lock' });
      import('./screens/play remix.js');
      const ref = '画像'; // i18n-ignore: the format the agent reads
    `;
    expect(scanScript('x.js', code)).toEqual([]);
  });

  it('finds HTML text and visible attributes without data-i18n', () => {
    const html = `<!doctype html><html><head><title>DreamCore</title><meta name="viewport" content="width=device-width">
      <meta name="description" content="Make games"></head><body>
      <div class="boot"><span class="spinner"></span> Loading…</div>
      <p data-i18n="app.loading">Loading DreamCore…</p><img alt="A picture" src="/x.png"><input placeholder="Name" data-i18n-placeholder="a.b">
      <script>const x = 'Not scanned here';</script></body></html>`;
    const { findings, keys } = scanHtml('x.html', html);
    expect(findings.map((f) => f.text)).toEqual(['content="Make games"', 'Loading…', 'alt="A picture"']);
    expect(keys.map((k) => k.key)).toEqual(['app.loading', 'a.b']);
  });

  it('counts words, not symbols or allowed names', () => {
    expect(strayWords('DreamCore · 50%')).toEqual([]);
    expect(strayWords('v2 ⟳ ↗')).toEqual([]);
    expect(strayWords('Open ↗')).toEqual(['Open']);
  });
});

describe('the app', () => {
  it('has no words for people outside the catalogue, in its code or its HTML', () => {
    const findings = [
      ...[...scripts(join(PUBLIC, 'js')), join(PUBLIC, 'sw.js')].flatMap((file) => scanScript(relative(PUBLIC, file), readFileSync(file, 'utf8'))),
      // Every page (offline.html too: the service worker shows it without the network).
      ...readdirSync(PUBLIC)
        .filter((file) => file.endsWith('.html'))
        .flatMap((file) => scanHtml(file, readFileSync(join(PUBLIC, file), 'utf8')).findings),
    ];
    expect(findings.map((f) => `${f.file}:${f.line} ${f.text}`)).toEqual([]);
  });
});

describe('the catalogue', () => {
  let AREAS: Record<string, Area>;
  let LANGUAGES: readonly string[];
  beforeAll(async () => {
    ({ AREAS } = await import(pathToFileURL(join(CATALOGUE_DIR, 'index.js')).href));
    ({ LANGUAGES } = await import(pathToFileURL(join(PUBLIC, 'js', 'i18n', 'define.js')).href));
  });

  it('has every area registered', () => {
    const files = readdirSync(CATALOGUE_DIR).filter((f) => f.endsWith('.js') && f !== 'index.js');
    expect(Object.keys(AREAS).sort()).toEqual(files.map((f) => f.replace(/\.js$/, '')).sort());
  });

  it('has every key in all six languages, with the same placeholders, and named by the convention', () => {
    const problems: string[] = [];
    for (const [areaName, area] of Object.entries(AREAS)) {
      for (const [key, en] of Object.entries(area.en ?? {})) {
        if (!/^[a-z][A-Za-z0-9]*(_[a-z][A-Za-z0-9]*)?$/.test(key)) problems.push(`${areaName}.${key}: not camelCase`);
        for (const lang of LANGUAGES) {
          const text = area[lang]?.[key];
          if (text === undefined) {
            problems.push(`${areaName}.${key}: missing in ${lang}`);
            continue;
          }
          if (typeof text !== 'string' && typeof text.other !== 'string') problems.push(`${areaName}.${key} (${lang}): plural forms without "other"`);
          if ((typeof text === 'string' ? [text] : Object.values(text)).some((form) => form.trim() === ''))
            problems.push(`${areaName}.${key} (${lang}): empty`);
          const want = placeholders(en);
          const have = placeholders(text);
          if (have.join() !== want.join()) problems.push(`${areaName}.${key} (${lang}): placeholders {${have}} instead of {${want}}`);
        }
      }
      for (const lang of Object.keys(area)) {
        if (!LANGUAGES.includes(lang)) problems.push(`${areaName}: unknown language ${lang}`);
        for (const key of Object.keys(area[lang] ?? {})) if (!(key in area.en!)) problems.push(`${areaName}.${key}: in ${lang} but not in English`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("matches the English written in the HTML (what shows before the page's script runs)", () => {
    const mismatches = ['index.html', 'play.html'].flatMap((file) =>
      scanHtml(file, readFileSync(join(PUBLIC, file), 'utf8'))
        .keys.filter(({ key, text }) => {
          const [area, name] = key.split('.');
          return AREAS[area!]?.en?.[name!] !== text;
        })
        .map(({ key, text }) => `${file}: ${key} = "${text}"`),
    );
    expect(mismatches).toEqual([]);
  });
});

describe('the lookup', () => {
  /** public/js/i18n/index.js (checked by its own JSDoc types; the server's tsconfig does not read the app's JS). */
  interface I18n {
    STORAGE_KEY: string;
    detectLanguage(preferred: readonly string[]): string;
    setLanguage(lang: string): void;
    language(): string;
    t(key: string, vars?: Record<string, string | number>): string;
    formatDay(iso: string): string;
    timeAgo(iso: string, now?: number): string;
  }
  let i18n: I18n;
  const storage = new Map<string, string>();
  beforeAll(async () => {
    // The little of a browser the module touches.
    Object.assign(globalThis, {
      localStorage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => void storage.set(k, v) },
      document: { cookie: '', documentElement: { lang: '' }, querySelectorAll: () => [] },
      window: new EventTarget(),
    });
    i18n = await import(pathToFileURL(join(PUBLIC, 'js', 'i18n', 'index.js')).href);
  });

  it("takes the browser's first language it speaks, English otherwise", () => {
    expect(i18n.detectLanguage(['fr-FR', 'pt-BR', 'en'])).toBe('pt');
    expect(i18n.detectLanguage(['zh-TW'])).toBe('zh');
    expect(i18n.detectLanguage(['ja'])).toBe('ja');
    expect(i18n.detectLanguage(['de', 'fr'])).toBe('en');
    expect(i18n.detectLanguage([])).toBe('en');
  });

  it('remembers the choice, fills placeholders with numbers in the language, and picks plural forms', () => {
    i18n.setLanguage('en');
    expect(storage.get(i18n.STORAGE_KEY)).toBe('en');
    expect((globalThis as unknown as { document: { cookie: string } }).document.cookie).toMatch(/^dreamcore_lang=en;/);
    expect(i18n.t('play.plays', { count: 1 })).toBe('1 play');
    expect(i18n.t('play.plays', { count: 1200 })).toBe('1,200 plays');
    expect(i18n.t('projects.deleteMessage', { name: 'Star' })).toContain('“Star”');
    i18n.setLanguage('ja');
    expect(i18n.language()).toBe('ja');
    expect(i18n.t('play.plays', { count: 1 })).toBe('1回プレイ');
    expect(i18n.t('common.close')).toBe('閉じる');
    // An unknown key shows itself; an unknown language is refused.
    expect(i18n.t('play.nothing')).toBe('play.nothing');
    i18n.setLanguage('xx');
    expect(i18n.language()).toBe('ja');
  });

  it("says a server's refusal in the user's words, never the server's own English or Japanese text", async () => {
    const { errorText } = (await import(pathToFileURL(join(PUBLIC, 'js', 'screens', 'chrome.js')).href)) as {
      errorText(message: unknown): string;
    };
    i18n.setLanguage('ja');
    // Restoring a version while a generation runs: V2's fixed English text on the socket.
    expect(errorText({ type: 'error', message: 'A generation is running for this project; cancel it first' })).toBe(i18n.t('errors.restoreWhileRunning'));
    expect(errorText({ type: 'error', message: 'Access denied' })).toBe(i18n.t('errors.accessDenied'));
    expect(errorText({ type: 'error', error: { code: 'RATE_LIMITED', message: 'Too many requests' } })).toBe(i18n.t('errors.rateLimited'));
    // Whatever else the server says (a backend's message, a code the app does not know): a general word.
    expect(errorText({ type: 'error', message: 'Version abc1234 not found in the repository' })).toBe(i18n.t('common.somethingWrong'));
    expect(errorText({ type: 'error', error: { code: 'SOMETHING_NEW', message: 'Quota store offline' } })).toBe(i18n.t('common.somethingWrong'));
    expect(i18n.t('common.somethingWrong')).toBe('問題が発生しました。もう一度お試しください。');
  });

  it('formats dates and times in the language', () => {
    const iso = '2026-12-03T14:05:00Z';
    i18n.setLanguage('ja');
    expect(i18n.formatDay(iso)).toMatch(/2026\/12\/0?3/);
    const now = Date.parse(iso) + 3 * 60_000;
    expect(i18n.timeAgo(iso, now)).toBe('3 分前');
    i18n.setLanguage('en');
    expect(i18n.timeAgo(iso, now)).toBe('3 minutes ago');
    expect(i18n.formatDay(iso)).toBe('Dec 3, 2026');
  });
});
