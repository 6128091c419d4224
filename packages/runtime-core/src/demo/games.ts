/**
 * The games demo mode's model writes: a real, playable single-file canvas game per kind, and the theme (colours,
 * speed) a request or follow-up asks for. The model's turns themselves are in script.ts.
 *
 * Every generated game shares one small shell (canvas fit, keyboard + pointer input, start / game-over screens,
 * score and best score, particles, requestAnimationFrame loop) and adds ~50–90 lines of its own. The look and speed
 * live on ONE line, `const THEME = {...};`, so a follow-up can change them with an exact-match Edit.
 */
export type GameKind = 'shooter' | 'jumper' | 'snake' | 'breakout' | 'catcher';
export type Lang = 'en' | 'ja';

export interface GameTheme {
  palette: string;
  bg: string;
  fg: string;
  accent: string;
  player: string;
  enemy: string;
  /** Multiplies the game clock: 1.5 is 50% faster. */
  speed: number;
}

type Palette = Omit<GameTheme, 'palette' | 'speed'>;

const PALETTES: Record<string, Palette & { en: string; ja: string; match: RegExp }> = {
  night: {
    bg: '#0b1020',
    fg: '#e8ecff',
    accent: '#ffcc33',
    player: '#4de3ff',
    enemy: '#ff5c7a',
    en: 'night-sky',
    ja: '夜空',
    match: /dark|night|black|暗|夜|黒/,
  },
  red: { bg: '#1c0609', fg: '#ffe9e6', accent: '#ffb74d', player: '#ff5252', enemy: '#ffd740', en: 'red', ja: '赤', match: /\bred\b|赤|レッド/ },
  blue: { bg: '#03122b', fg: '#e3f2fd', accent: '#80d8ff', player: '#448aff', enemy: '#ff9e80', en: 'blue', ja: '青', match: /blue|青|ブルー|水色/ },
  green: { bg: '#04160c', fg: '#e8f5e9', accent: '#eeff41', player: '#69f0ae', enemy: '#ff6e6e', en: 'green', ja: '緑', match: /green|緑|グリーン/ },
  pink: { bg: '#220a1a', fg: '#fff0f6', accent: '#ffe57f', player: '#ff80ab', enemy: '#b388ff', en: 'pink', ja: 'ピンク', match: /pink|ピンク|桃/ },
  purple: { bg: '#140826', fg: '#f3e5f5', accent: '#ffd180', player: '#b388ff', enemy: '#64ffda', en: 'purple', ja: '紫', match: /purple|violet|紫|パープル/ },
  yellow: {
    bg: '#1f1a05',
    fg: '#fffde7',
    accent: '#ff9100',
    player: '#ffea00',
    enemy: '#40c4ff',
    en: 'yellow',
    ja: '黄色',
    match: /yellow|gold|黄|イエロー|金色/,
  },
  orange: { bg: '#1f0e02', fg: '#fff3e0', accent: '#ffe082', player: '#ff9100', enemy: '#40c4ff', en: 'orange', ja: 'オレンジ', match: /orange|オレンジ|橙/ },
  light: {
    bg: '#eef3ff',
    fg: '#1b2140',
    accent: '#ff6d00',
    player: '#2962ff',
    enemy: '#d50000',
    en: 'bright daylight',
    ja: '明るい昼',
    match: /light|bright|white|明る|白/,
  },
};
const CYCLE = ['night', 'pink', 'green', 'orange', 'blue', 'purple', 'red', 'yellow', 'light'];

const KINDS: Array<[GameKind, RegExp]> = [
  ['snake', /snake|worm|ヘビ|へび|蛇|スネーク/],
  ['breakout', /breakout|brick|block|arkanoid|paddle|ブロック|崩し|くずし|レンガ/],
  ['jumper', /jump|platform|runner|running|dino|ジャンプ|ランナー|走|アクション/],
  ['shooter', /shoot|shmup|space|invader|alien|galaxy|bullet|撃|シューティング|シューター|宇宙|インベーダー/],
  ['catcher', /catch|collect|fall|キャッチ|集め|拾|落ち/],
];
export const DEFAULT_KIND: GameKind = 'catcher';

export const GAME_INFO: Record<GameKind, { title: Record<Lang, string>; what: Record<Lang, string>; help: Record<Lang, string> }> = {
  shooter: {
    title: { en: 'Star Blaster', ja: 'スターブラスター' },
    what: { en: 'a space shooter', ja: '宇宙シューティング' },
    help: { en: '←/→ or drag to move · Space or hold to shoot', ja: '←/→ かドラッグで移動・スペースか長押しで発射' },
  },
  jumper: {
    title: { en: 'Sky Hopper', ja: 'スカイホッパー' },
    what: { en: 'a jump-and-run game', ja: 'ジャンプアクション' },
    help: { en: 'Space / ↑ / tap to jump (twice for a double jump)', ja: 'スペース / ↑ / タップでジャンプ（2段ジャンプOK）' },
  },
  snake: {
    title: { en: 'Neon Snake', ja: 'ネオンスネーク' },
    what: { en: 'a snake game', ja: 'ヘビゲーム' },
    help: { en: 'Arrow keys / WASD or swipe to turn', ja: '矢印キー / WASD かスワイプで方向転換' },
  },
  breakout: {
    title: { en: 'Brick Breaker', ja: 'ブロックくずし' },
    what: { en: 'a breakout game', ja: 'ブロックくずし' },
    help: { en: '←/→ or drag to move · Space / tap to launch', ja: '←/→ かドラッグで移動・スペース / タップで発射' },
  },
  catcher: {
    title: { en: 'Star Catcher', ja: 'スターキャッチ' },
    what: { en: 'a catching game', ja: 'キャッチゲーム' },
    help: { en: '←/→ or drag to move · catch stars, dodge bombs', ja: '←/→ かドラッグで移動・星を集めて爆弾をよけよう' },
  },
};

const UI: Record<Lang, { start: string; over: string; retry: string; score: string; best: string }> = {
  en: { start: 'Press Space / tap to start', over: 'Game Over', retry: 'Press Space / tap to play again', score: 'Score', best: 'Best' },
  ja: { start: 'スペースキー / タップでスタート', over: 'ゲームオーバー', retry: 'スペース / タップでもう一度', score: 'スコア', best: 'ベスト' },
};

// ---------------------------------------------------------------- reading the prompt

/**
 * A prompt may carry a style section after a `---` line (the server appends the visual style the user chose). The
 * demo model reads the request from the part before it, and takes the game's colours from the section's
 * `Palette:` line (the first colour is the background), as a real model would follow the style.
 */
export function splitStyle(prompt: string): { request: string; palette: string[] | null } {
  const at = prompt.search(/\n-{3,}\n/);
  if (at < 0) return { request: prompt, palette: null };
  const colours = /^Palette:\s*(.+)$/m.exec(prompt.slice(at))?.[1]?.match(/#[0-9a-f]{6}\b/gi) ?? [];
  return { request: prompt.slice(0, at).trimEnd(), palette: colours.length >= 3 ? colours.map((c) => c.toLowerCase()) : null };
}

/** A theme from a style's palette: its first colour as the background, the colour that stands out most on it as text. */
export function styleTheme(palette: readonly string[]): GameTheme {
  const [bg, ...rest] = palette as [string, ...string[]];
  const fg = [...rest].sort((a, b) => contrast(b, bg) - contrast(a, bg))[0]!;
  const others = rest.filter((c) => c !== fg);
  const pick = (i: number) => legible(others[i % others.length] ?? fg, bg, fg);
  return { palette: 'style', bg, fg, player: pick(0), enemy: pick(1), accent: pick(2), speed: 1 };
}

/** The colour, moved toward the text colour until it stands out from the background (pastel on pastel would not). */
function legible(colour: string, bg: string, fg: string): string {
  let out = colour;
  for (let t = 0.2; contrast(out, bg) < 1.8 && t < 1; t += 0.2) out = mix(colour, fg, t);
  return out;
}

function mix(a: string, b: string, t: number): string {
  const [x, y] = [Number.parseInt(a.slice(1), 16), Number.parseInt(b.slice(1), 16)];
  const channel = (shift: number) => Math.round(((x >> shift) & 255) * (1 - t) + ((y >> shift) & 255) * t);
  return `#${[16, 8, 0].map((shift) => channel(shift).toString(16).padStart(2, '0')).join('')}`;
}

function luminance(hex: string): number {
  const n = Number.parseInt(hex.slice(1), 16);
  const channel = (v: number) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(n >> 16) + 0.7152 * channel((n >> 8) & 255) + 0.0722 * channel(n & 255);
}

/** WCAG contrast ratio of two colours. */
function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((m, n) => n - m) as [number, number];
  return (x + 0.05) / (y + 0.05);
}

export function detectLang(text: string): Lang {
  return /[\u3040-\u30ff\u3400-\u9fff]/.test(text) ? 'ja' : 'en';
}

/** The kind the prompt names, or null when it names none. */
export function explicitGameKind(prompt: string): GameKind | null {
  const text = prompt.toLowerCase();
  return KINDS.find(([, re]) => re.test(text))?.[0] ?? null;
}

export function detectGameKind(prompt: string): GameKind {
  return explicitGameKind(prompt) ?? DEFAULT_KIND;
}

/** A quoted name in the prompt (「…」, "…") becomes the title; otherwise the kind's own title. */
export function gameTitle(prompt: string, kind: GameKind, lang: Lang = detectLang(prompt)): string {
  const quoted = /[「『"“]([^」』"”\n]{1,40})[」』"”]/.exec(prompt)?.[1]?.trim();
  return quoted || GAME_INFO[kind].title[lang];
}

const SPEED_UP = /fast|quick|speed ?up|harder|速く|速い|はやく|早く|スピードアップ|難しく/;
const SLOW_DOWN = /slow|easier|遅く|ゆっくり|簡単/;
const CHANGE =
  /change|make it|make the|turn it|instead|switch|convert|modify|update|tweak|color|colour|more|less|bigger|smaller|変え|変更|にして|もっと|追加|修正|直して|色|速|遅/;

/** Does the prompt ask to change the game (colours, speed, anything) rather than for a new one? */
export function wantsChange(prompt: string): boolean {
  const text = prompt.toLowerCase();
  return CHANGE.test(text) || SPEED_UP.test(text) || SLOW_DOWN.test(text) || Object.values(PALETTES).some((p) => p.match.test(text));
}

/** The theme a follow-up asks for: a named palette and/or a speed change; a new palette when it names neither. */
export function applyChange(theme: GameTheme, prompt: string): GameTheme {
  const text = prompt.toLowerCase();
  const next: GameTheme = { ...theme };
  const named = Object.entries(PALETTES).find(([name, p]) => name !== theme.palette && p.match.test(text))?.[0];
  let speed = theme.speed;
  if (SLOW_DOWN.test(text)) speed = theme.speed / 1.5;
  else if (SPEED_UP.test(text)) speed = theme.speed * 1.5;
  next.speed = Math.round(Math.min(4, Math.max(0.25, speed)) * 100) / 100;
  const palette = named ?? (next.speed === theme.speed ? CYCLE[(CYCLE.indexOf(theme.palette) + 1) % CYCLE.length]! : null);
  if (palette) Object.assign(next, paletteTheme(palette));
  return next;
}

function paletteTheme(name: string): Omit<GameTheme, 'speed'> {
  const p = PALETTES[name] ?? PALETTES.night!;
  return { palette: name, bg: p.bg, fg: p.fg, accent: p.accent, player: p.player, enemy: p.enemy };
}

/** A palette's name in the user's language (`red` → 赤). */
export function paletteName(palette: string, lang: Lang): string {
  return PALETTES[palette]?.[lang] ?? palette;
}

export function defaultTheme(): GameTheme {
  return { ...paletteTheme('night'), speed: 1 };
}

// ---------------------------------------------------------------- the games

export interface BuildGameOptions {
  title?: string;
  lang?: Lang;
  theme?: GameTheme;
  /** A sprite's URL (the image tool's answer): the game's mascot on the title screen and in the HUD. */
  sprite?: string;
}

/** A complete, self-contained index.html for one kind of game. */
export function buildGame(kind: GameKind, options: BuildGameOptions = {}): string {
  const lang = options.lang ?? 'en';
  const title = options.title ?? GAME_INFO[kind].title[lang];
  const text = { title, help: GAME_INFO[kind].help[lang], ...UI[lang] };
  return `<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1, user-scalable=no">
<meta name="dreamcore-demo" content="${kind}">
<title>${escapeHtml(title)}</title>
<style>
  html, body { margin: 0; height: 100%; background: #000; overflow: hidden; touch-action: none; user-select: none; }
  canvas { display: block; margin: 0 auto; touch-action: none; }
</style>
</head>
<body>
<canvas id="game" width="480" height="640"></canvas>
<script>
// ${jsComment(title)}: made in DreamCore demo mode. One file, no external resources.
const THEME = ${JSON.stringify(options.theme ?? defaultTheme())};
const TEXT = ${jsonForScript(text)};
const HERO = ${
    options.sprite
      ? `new Image();
HERO.src = ${jsonForScript(options.sprite)}`
      : 'null'
  };
${SHELL_TOP}
${GAMES[kind]}
${SHELL_BOTTOM}
</script>
</body>
</html>
`;
}

const SHELL_TOP = `const W = 480, H = 640;
const cv = document.getElementById('game');
const g = cv.getContext('2d');
function fit() {
  const s = Math.min(innerWidth / W, innerHeight / H);
  cv.style.width = W * s + 'px';
  cv.style.height = H * s + 'px';
}
addEventListener('resize', fit);
fit();
const keys = {};
const pointer = { down: false, x: W / 2, y: H / 2, sx: 0, sy: 0 };
let state = 'start', score = 0, best = 0, last = 0, shake = 0, overAt = 0;
let sparks = [];
try { best = Number(localStorage.getItem('best:' + TEXT.title)) || 0; } catch (e) {}
const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
const rand = (lo, hi) => lo + Math.random() * (hi - lo);
function burst(x, y, color, n = 14) {
  for (let i = 0; i < n; i++) {
    const a = rand(0, Math.PI * 2), v = rand(60, 260);
    sparks.push({ x, y, vx: Math.cos(a) * v, vy: Math.sin(a) * v, life: rand(0.3, 0.8), color });
  }
}
function gameOver() {
  if (state !== 'play') return;
  state = 'over';
  overAt = performance.now();
  shake = 14;
  if (score > best) {
    best = score;
    try { localStorage.setItem('best:' + TEXT.title, String(best)); } catch (e) {}
  }
}`;

/**
 * The input and the loop every demo game shares. On the title and game-over screens nothing moves but the blinking
 * line (once the sparks and the shake of a game over are done): the loop sleeps until the line changes, or until a
 * press (or the hero picture loading) wakes it. A game left on its title screen (an editor's preview, a shared game's
 * page) then keeps the machine idle instead of drawing the same picture at every frame (0.22 of a core in chromium
 * for the shooter's, measured; 0.07 with the frames skipped but the loop kept; 0.03 asleep). What a game writes
 * stays free of the words the tests look for in a version ("second", "first-version"): keep comments in here short.
 */
const SHELL_BOTTOM = `function action() {
  if (state === 'play') return game.action();
  if (state === 'over' && performance.now() - overAt < 600) return; // don't restart by accident
  score = 0;
  sparks = [];
  game.reset();
  state = 'play';
  wake();
}
addEventListener('keydown', (e) => {
  keys[e.code] = true;
  if (e.code === 'Space' || e.code === 'Enter') {
    e.preventDefault();
    if (!e.repeat) action();
  } else if (e.code.startsWith('Arrow')) {
    e.preventDefault();
  }
  if (state === 'play' && game.key && !e.repeat) game.key(e.code);
});
addEventListener('keyup', (e) => {
  keys[e.code] = false;
  if (state === 'play' && game.release && (e.code === 'Space' || e.code === 'ArrowUp' || e.code === 'KeyW')) game.release();
});
function toGame(e) {
  const r = cv.getBoundingClientRect();
  return { x: (e.clientX - r.left) * W / r.width, y: (e.clientY - r.top) * H / r.height };
}
cv.addEventListener('pointerdown', (e) => {
  e.preventDefault();
  const p = toGame(e);
  Object.assign(pointer, { down: true, x: p.x, y: p.y, sx: p.x, sy: p.y });
  action();
});
cv.addEventListener('pointermove', (e) => {
  const p = toGame(e);
  pointer.x = p.x;
  pointer.y = p.y;
});
addEventListener('pointerup', () => {
  pointer.down = false;
  if (state === 'play' && game.release) game.release();
});
function text(str, x, y, size, color, align = 'center') {
  g.font = 'bold ' + size + 'px system-ui, -apple-system, "Segoe UI", sans-serif';
  g.textAlign = align;
  g.fillStyle = color;
  g.fillText(str, x, y);
}
function mascot(x, y, size) {
  // Drawn once it has loaded: the game never waits for (or breaks on) its picture.
  if (HERO && HERO.complete && HERO.naturalWidth) g.drawImage(HERO, x - size / 2, y - size / 2, size, size * HERO.naturalHeight / HERO.naturalWidth);
}
function hud(now) {
  text(TEXT.score + ' ' + score, 14, 28, 20, THEME.fg, 'left');
  text(TEXT.best + ' ' + best, W - 14, 28, 20, THEME.fg, 'right');
  mascot(W / 2, 24, 32);
  if (state === 'play') return;
  g.fillStyle = 'rgba(0, 0, 0, 0.55)';
  g.fillRect(0, 0, W, H);
  const blink = Math.floor(now / 500) % 2 === 0;
  if (state === 'start') {
    mascot(W / 2, H / 2 - 170, 96);
    text(TEXT.title, W / 2, H / 2 - 70, 40, THEME.accent);
    text(TEXT.help, W / 2, H / 2 - 20, 15, THEME.fg);
    if (blink) text(TEXT.start, W / 2, H / 2 + 40, 22, THEME.fg);
  } else {
    text(TEXT.over, W / 2, H / 2 - 50, 44, THEME.enemy);
    text(TEXT.score + ' ' + score, W / 2, H / 2, 26, THEME.fg);
    if (blink) text(TEXT.retry, W / 2, H / 2 + 50, 20, THEME.fg);
  }
}
// A still screen (title, game over) sleeps until its blinking line changes or a press starts a game.
let drawn = '', sleeping = 0;
function wake() {
  if (!sleeping) return;
  clearTimeout(sleeping);
  sleeping = 0;
  requestAnimationFrame(frame);
}
if (HERO) HERO.addEventListener('load', wake);
function frame(now) {
  const dt = Math.min(0.05, (now - (last || now)) / 1000) * THEME.speed;
  last = now;
  if (state === 'play') game.update(dt);
  for (const s of sparks) { s.x += s.vx * dt; s.y += s.vy * dt; s.vy += 300 * dt; s.life -= dt; }
  sparks = sparks.filter((s) => s.life > 0);
  const look = state !== 'play' && sparks.length === 0 && shake === 0
    ? state + (Math.floor(now / 500) % 2) + (HERO && HERO.complete ? HERO.naturalWidth : '')
    : '';
  if (look && look === drawn) {
    sleeping = setTimeout(() => { sleeping = 0; requestAnimationFrame(frame); }, 500 - (now % 500) + 1);
    return;
  }
  drawn = look;
  g.save();
  if (shake > 0.5) { g.translate(rand(-shake, shake), rand(-shake, shake)); shake *= 0.9; } else shake = 0;
  g.fillStyle = THEME.bg;
  g.fillRect(-20, -20, W + 40, H + 40);
  game.draw();
  for (const s of sparks) { g.globalAlpha = clamp(s.life * 2, 0, 1); g.fillStyle = s.color; g.fillRect(s.x - 2, s.y - 2, 4, 4); }
  g.globalAlpha = 1;
  g.restore();
  hud(now);
  requestAnimationFrame(frame);
}
game.reset();
requestAnimationFrame(frame);`;

const GAMES: Record<GameKind, string> = {
  shooter: `let ship, bullets, foes, stars, cool, spawn;
function fire() {
  if (cool > 0) return;
  cool = 0.16;
  bullets.push({ x: ship.x, y: ship.y - 20 });
}
const game = {
  reset() {
    ship = { x: W / 2, y: H - 80, r: 16 };
    bullets = []; foes = []; cool = 0; spawn = 1;
    stars = Array.from({ length: 70 }, () => ({ x: rand(0, W), y: rand(0, H), v: rand(20, 120) }));
  },
  action() { fire(); },
  update(dt) {
    const dir = (keys.ArrowRight || keys.KeyD ? 1 : 0) - (keys.ArrowLeft || keys.KeyA ? 1 : 0);
    ship.x += dir * 320 * dt;
    if (pointer.down) ship.x += (pointer.x - ship.x) * Math.min(1, dt * 12);
    ship.x = clamp(ship.x, ship.r, W - ship.r);
    cool -= dt;
    if (keys.Space || pointer.down) fire();
    for (const s of stars) { s.y += s.v * dt; if (s.y > H) { s.y = 0; s.x = rand(0, W); } }
    spawn -= dt;
    if (spawn <= 0) {
      spawn = Math.max(0.3, 1.1 - score / 500);
      foes.push({ x: rand(30, W - 30), y: -20, r: rand(13, 22), vy: rand(70, 130) + score / 5, t: rand(0, 6) });
    }
    for (const b of bullets) b.y -= 560 * dt;
    for (const f of foes) {
      f.t += dt;
      f.y += f.vy * dt;
      f.x += Math.sin(f.t * 2.5) * 60 * dt;
      for (const b of bullets) {
        if (!b.hit && !f.dead && Math.hypot(b.x - f.x, b.y - f.y) < f.r + 4) {
          b.hit = f.dead = true;
          score += 10;
          burst(f.x, f.y, THEME.enemy);
        }
      }
      if (!f.dead && Math.hypot(ship.x - f.x, ship.y - f.y) < f.r + ship.r - 4) {
        burst(ship.x, ship.y, THEME.player, 30);
        gameOver();
      }
      if (f.y > H + 30) { f.dead = true; score = Math.max(0, score - 5); }
    }
    bullets = bullets.filter((b) => !b.hit && b.y > -10);
    foes = foes.filter((f) => !f.dead);
  },
  draw() {
    g.fillStyle = THEME.fg;
    for (const s of stars) { g.globalAlpha = s.v / 140; g.fillRect(s.x, s.y, 2, 2); }
    g.globalAlpha = 1;
    g.fillStyle = THEME.accent;
    for (const b of bullets) g.fillRect(b.x - 2, b.y - 8, 4, 14);
    for (const f of foes) {
      g.fillStyle = THEME.enemy;
      g.beginPath(); g.arc(f.x, f.y, f.r, 0, Math.PI * 2); g.fill();
      g.fillStyle = THEME.bg;
      g.fillRect(f.x - f.r / 2 - 2, f.y - 4, 5, 5); g.fillRect(f.x + f.r / 2 - 3, f.y - 4, 5, 5);
    }
    if (state !== 'over') {
      g.fillStyle = THEME.player;
      g.beginPath(); g.moveTo(ship.x, ship.y - 22); g.lineTo(ship.x - 17, ship.y + 14); g.lineTo(ship.x + 17, ship.y + 14); g.closePath(); g.fill();
      g.fillStyle = THEME.accent;
      g.fillRect(ship.x - 4, ship.y + 14, 8, 6 + Math.random() * 8);
    }
  },
};`,

  jumper: `const GROUND = H - 90;
let p, obs, coins, dist, bonus, spawn, hills;
const game = {
  reset() {
    p = { x: 90, y: GROUND, vy: 0, w: 30, h: 38, jumps: 0 };
    obs = []; coins = []; dist = 0; bonus = 0; spawn = 1;
    hills = Array.from({ length: 6 }, (_, i) => ({ x: i * 110, h: rand(40, 120) }));
  },
  action() {
    if (p.jumps >= 2) return;
    p.vy = p.jumps === 0 ? -640 : -560;
    p.jumps++;
    burst(p.x + p.w / 2, p.y, THEME.accent, 6);
  },
  key(code) { if (code === 'ArrowUp' || code === 'KeyW') game.action(); },
  release() { if (p.vy < -260) p.vy = -260; },
  update(dt) {
    const speed = 260 + dist / 30;
    dist += speed * dt;
    score = Math.floor(dist / 20) + bonus;
    p.vy += 1700 * dt;
    p.y += p.vy * dt;
    if (p.y >= GROUND) { p.y = GROUND; p.vy = 0; p.jumps = 0; }
    for (const h of hills) { h.x -= speed * 0.25 * dt; if (h.x < -110) { h.x += 660; h.h = rand(40, 120); } }
    spawn -= dt;
    if (spawn <= 0) {
      spawn = rand(0.8, 1.7) * Math.max(0.6, 1 - dist / 20000);
      const h = rand(28, 80);
      obs.push({ x: W + 20, w: rand(24, 50), h });
      if (Math.random() < 0.7) coins.push({ x: W + 40 + rand(0, 60), y: GROUND - h - rand(60, 140) });
    }
    for (const o of obs) {
      o.x -= speed * dt;
      if (p.x + 4 < o.x + o.w && p.x + p.w - 4 > o.x && p.y > GROUND - o.h) {
        burst(p.x + p.w / 2, p.y - p.h / 2, THEME.player, 30);
        gameOver();
      }
    }
    for (const c of coins) {
      c.x -= speed * dt;
      if (!c.got && Math.hypot(c.x - (p.x + p.w / 2), c.y - (p.y - p.h / 2)) < 28) {
        c.got = true;
        bonus += 25;
        burst(c.x, c.y, THEME.accent, 10);
      }
    }
    obs = obs.filter((o) => o.x > -60);
    coins = coins.filter((c) => !c.got && c.x > -20);
  },
  draw() {
    g.fillStyle = THEME.player;
    g.globalAlpha = 0.15;
    for (const h of hills) { g.beginPath(); g.arc(h.x + 55, GROUND, h.h, Math.PI, 0); g.fill(); }
    g.globalAlpha = 1;
    g.fillStyle = THEME.fg;
    g.fillRect(0, GROUND, W, 3);
    g.fillStyle = THEME.enemy;
    for (const o of obs) g.fillRect(o.x, GROUND - o.h, o.w, o.h);
    g.fillStyle = THEME.accent;
    for (const c of coins) { g.beginPath(); g.arc(c.x, c.y, 9, 0, Math.PI * 2); g.fill(); }
    if (state !== 'over') {
      const squash = p.jumps > 0 ? 4 : 0;
      g.fillStyle = THEME.player;
      g.fillRect(p.x + squash / 2, p.y - p.h - squash, p.w - squash, p.h + squash);
      g.fillStyle = THEME.bg;
      g.fillRect(p.x + p.w - 11, p.y - p.h + 8, 6, 6);
    }
  },
};`,

  snake: `const C = 24, COLS = 20, ROWS = 24, OY = 48;
let snake, dir, next, food, acc;
function place() {
  do { food = { x: Math.floor(rand(0, COLS)), y: Math.floor(rand(0, ROWS)) }; }
  while (snake.some((s) => s.x === food.x && s.y === food.y));
}
function turn(x, y) { if (x !== -dir.x || y !== -dir.y) next = { x, y }; }
function step() {
  dir = next;
  const head = { x: snake[0].x + dir.x, y: snake[0].y + dir.y };
  const hitWall = head.x < 0 || head.y < 0 || head.x >= COLS || head.y >= ROWS;
  if (hitWall || snake.some((s) => s.x === head.x && s.y === head.y)) {
    burst(snake[0].x * C + C / 2, OY + snake[0].y * C + C / 2, THEME.player, 30);
    return gameOver();
  }
  snake.unshift(head);
  if (head.x === food.x && head.y === food.y) {
    score += 10;
    burst(food.x * C + C / 2, OY + food.y * C + C / 2, THEME.accent);
    place();
  } else snake.pop();
}
const game = {
  reset() {
    snake = [{ x: 8, y: 12 }, { x: 7, y: 12 }, { x: 6, y: 12 }];
    dir = next = { x: 1, y: 0 };
    acc = 0;
    place();
  },
  action() {},
  key(code) {
    const m = { ArrowUp: [0, -1], KeyW: [0, -1], ArrowDown: [0, 1], KeyS: [0, 1],
      ArrowLeft: [-1, 0], KeyA: [-1, 0], ArrowRight: [1, 0], KeyD: [1, 0] }[code];
    if (m) turn(m[0], m[1]);
  },
  update(dt) {
    if (pointer.down) {
      const dx = pointer.x - pointer.sx, dy = pointer.y - pointer.sy;
      if (Math.max(Math.abs(dx), Math.abs(dy)) > 28) {
        if (Math.abs(dx) > Math.abs(dy)) turn(Math.sign(dx), 0); else turn(0, Math.sign(dy));
        pointer.sx = pointer.x; pointer.sy = pointer.y;
      }
    }
    acc += dt;
    const every = Math.max(0.06, 0.15 - snake.length * 0.002);
    while (acc >= every && state === 'play') { acc -= every; step(); }
  },
  draw() {
    g.strokeStyle = THEME.fg;
    g.globalAlpha = 0.08;
    for (let x = 0; x <= COLS; x++) { g.beginPath(); g.moveTo(x * C, OY); g.lineTo(x * C, OY + ROWS * C); g.stroke(); }
    for (let y = 0; y <= ROWS; y++) { g.beginPath(); g.moveTo(0, OY + y * C); g.lineTo(W, OY + y * C); g.stroke(); }
    g.globalAlpha = 1;
    g.strokeRect(0.5, OY + 0.5, W - 1, ROWS * C - 1);
    const pulse = state === 'play' ? 3 + Math.sin(performance.now() / 150) * 2 : 3; // still on the title screen
    g.fillStyle = THEME.accent;
    g.beginPath(); g.arc(food.x * C + C / 2, OY + food.y * C + C / 2, C / 2 - 5 + pulse / 2, 0, Math.PI * 2); g.fill();
    snake.forEach((s, i) => {
      g.fillStyle = i === 0 ? THEME.fg : THEME.player;
      g.globalAlpha = 1 - (i / snake.length) * 0.5;
      g.fillRect(s.x * C + 2, OY + s.y * C + 2, C - 4, C - 4);
    });
    g.globalAlpha = 1;
  },
};`,

  breakout: `const COLS = 8, ROWS = 6, BW = 54, BH = 20, GAP = 4, TOP = 80;
let pad, ball, bricks, lives, level;
function build() {
  bricks = [];
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < COLS; c++)
    bricks.push({ x: 16 + c * (BW + GAP), y: TOP + r * (BH + GAP), row: r, alive: true });
}
function serve() { ball = { x: pad.x, y: pad.y - 12, vx: 0, vy: 0, r: 8, stuck: true }; }
const game = {
  reset() { pad = { x: W / 2, y: H - 50, w: 96 }; lives = 3; level = 1; build(); serve(); },
  action() {
    if (!ball.stuck) return;
    ball.stuck = false;
    ball.vx = rand(120, 200) * (Math.random() < 0.5 ? -1 : 1);
    ball.vy = -(320 + level * 30);
  },
  update(dt) {
    const dir = (keys.ArrowRight || keys.KeyD ? 1 : 0) - (keys.ArrowLeft || keys.KeyA ? 1 : 0);
    pad.x += dir * 440 * dt;
    if (pointer.down) pad.x = pointer.x;
    pad.x = clamp(pad.x, pad.w / 2, W - pad.w / 2);
    if (ball.stuck) { ball.x = pad.x; ball.y = pad.y - 12; return; }
    for (let i = 0; i < 4; i++) move(dt / 4);
  },
  draw() {
    for (const b of bricks) {
      if (!b.alive) continue;
      g.fillStyle = b.row % 2 ? THEME.enemy : THEME.accent;
      g.globalAlpha = 1 - b.row * 0.1;
      g.fillRect(b.x, b.y, BW, BH);
    }
    g.globalAlpha = 1;
    g.fillStyle = THEME.player;
    g.fillRect(pad.x - pad.w / 2, pad.y, pad.w, 12);
    g.fillStyle = THEME.fg;
    g.beginPath(); g.arc(ball.x, ball.y, ball.r, 0, Math.PI * 2); g.fill();
    for (let i = 0; i < lives; i++) { g.beginPath(); g.arc(W / 2 - 20 + i * 20, 24, 6, 0, Math.PI * 2); g.fill(); }
  },
};
function move(dt) {
  const px = ball.x, py = ball.y;
  ball.x += ball.vx * dt;
  ball.y += ball.vy * dt;
  if (ball.x < ball.r) { ball.x = ball.r; ball.vx = Math.abs(ball.vx); }
  if (ball.x > W - ball.r) { ball.x = W - ball.r; ball.vx = -Math.abs(ball.vx); }
  if (ball.y < 44 + ball.r) { ball.y = 44 + ball.r; ball.vy = Math.abs(ball.vy); }
  if (ball.vy > 0 && ball.y + ball.r >= pad.y && ball.y - ball.r <= pad.y + 12 && Math.abs(ball.x - pad.x) < pad.w / 2 + ball.r) {
    const k = clamp((ball.x - pad.x) / (pad.w / 2), -1, 1);
    const sp = Math.min(760, Math.hypot(ball.vx, ball.vy) * 1.02);
    ball.vx = sp * Math.sin(k * 1.05);
    ball.vy = -sp * Math.cos(k * 1.05);
  }
  for (const b of bricks) {
    if (!b.alive) continue;
    if (ball.x + ball.r < b.x || ball.x - ball.r > b.x + BW || ball.y + ball.r < b.y || ball.y - ball.r > b.y + BH) continue;
    b.alive = false;
    score += 10 * (ROWS - b.row);
    burst(b.x + BW / 2, b.y + BH / 2, b.row % 2 ? THEME.enemy : THEME.accent, 10);
    if (px + ball.r <= b.x || px - ball.r >= b.x + BW) ball.vx = -ball.vx; else ball.vy = -ball.vy;
    break;
  }
  if (bricks.every((b) => !b.alive)) { level++; build(); serve(); }
  if (ball.y > H + 20) {
    lives--;
    burst(ball.x, H - 10, THEME.enemy, 20);
    if (lives <= 0) gameOver(); else serve();
  }
}`,

  catcher: `let basket, items, spawn, lives, t;
const game = {
  reset() { basket = { x: W / 2, y: H - 60, w: 80 }; items = []; spawn = 0.5; lives = 3; t = 0; },
  action() {},
  update(dt) {
    t += dt;
    const dir = (keys.ArrowRight || keys.KeyD ? 1 : 0) - (keys.ArrowLeft || keys.KeyA ? 1 : 0);
    basket.x += dir * 420 * dt;
    if (pointer.down) basket.x += (pointer.x - basket.x) * Math.min(1, dt * 14);
    basket.x = clamp(basket.x, basket.w / 2, W - basket.w / 2);
    spawn -= dt;
    if (spawn <= 0) {
      spawn = Math.max(0.35, 0.9 - t / 120);
      const bomb = Math.random() < Math.min(0.35, 0.12 + t / 300);
      items.push({ x: rand(20, W - 20), y: -20, vy: rand(150, 230) + t * 2, bomb, spin: rand(0, 6) });
    }
    for (const it of items) {
      it.y += it.vy * dt;
      it.spin += dt * 3;
      const caught = it.y > basket.y - 14 && it.y < basket.y + 14 && Math.abs(it.x - basket.x) < basket.w / 2 + 6;
      if (caught) {
        it.done = true;
        if (it.bomb) { burst(it.x, it.y, THEME.enemy, 40); gameOver(); }
        else { score += 10; burst(it.x, it.y, THEME.accent, 10); }
      } else if (it.y > H + 20) {
        it.done = true;
        if (!it.bomb && --lives <= 0) gameOver();
      }
    }
    items = items.filter((it) => !it.done);
  },
  draw() {
    for (const it of items) {
      g.save();
      g.translate(it.x, it.y);
      g.rotate(it.spin);
      g.fillStyle = it.bomb ? THEME.enemy : THEME.accent;
      g.beginPath();
      for (let i = 0; i < 10; i++) {
        const r = it.bomb ? 12 : i % 2 ? 6 : 14, a = (i / 10) * Math.PI * 2;
        g.lineTo(Math.cos(a) * r, Math.sin(a) * r);
      }
      g.closePath(); g.fill();
      g.restore();
    }
    g.fillStyle = THEME.player;
    g.fillRect(basket.x - basket.w / 2, basket.y, basket.w, 16);
    g.fillRect(basket.x - basket.w / 2, basket.y - 16, 8, 16);
    g.fillRect(basket.x + basket.w / 2 - 8, basket.y - 16, 8, 16);
    g.fillStyle = THEME.fg;
    for (let i = 0; i < lives; i++) { g.beginPath(); g.arc(W / 2 - 20 + i * 20, 24, 6, 0, Math.PI * 2); g.fill(); }
  },
};`,
};

// ---------------------------------------------------------------- escaping

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** JSON that is safe inside a <script> element (no `</script>`, no line separators). */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Text for a `//` comment inside <script>: one line, and no `<` that could start `</script>`. */
function jsComment(text: string): string {
  return text.replace(/[\r\n\u2028\u2029<]/g, ' ');
}
