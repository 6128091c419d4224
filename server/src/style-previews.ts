/**
 * The preview card of each visual style (`imageUrl` of `styleOptions`): a small SVG scene drawn from the style's own
 * palette in its manner, so it needs no image service and always matches the guideline the agent gets.
 */
import { escapeAttr } from './http/svg.js';
import type { Motif, VisualStyle } from './styles.js';

const W = 240;
const H = 160;

/** The preview card of a style: a small scene in its palette and manner (240×160 SVG). */
export function stylePreviewSvg(style: VisualStyle): string {
  const body = MOTIFS[style.motif](style.palette);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeAttr(style.nameEn)}"><title>${escapeAttr(style.nameEn)}</title>${body}</svg>`;
}

const rect = (x: number, y: number, w: number, h: number, fill: string, extra = '') =>
  `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="${fill}"${extra}/>`;
const circle = (cx: number, cy: number, r: number, fill: string, extra = '') => `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${fill}"${extra}/>`;
const poly = (points: number[][], fill: string, extra = '') => `<polygon points="${points.map((p) => p.join(',')).join(' ')}" fill="${fill}"${extra}/>`;

/** A deterministic sequence in [0, 1) (previews are the same on every request). */
function sequence(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const MOTIFS: Record<Motif, (p: VisualStyle['palette']) => string> = {
  pixels: ([sky, water, grass, coin, hero]) => {
    const cell = 10;
    let out = rect(0, 0, W, H, sky);
    for (let x = 0; x < W; x += cell) out += rect(x, 110, cell, cell, grass) + rect(x, 120, cell, 40, '#7f4f24');
    for (const [x, y] of [
      [60, 70],
      [70, 70],
      [80, 70],
      [150, 50],
      [160, 50],
    ])
      out += rect(x!, y!, cell, cell, '#c2c3c7');
    for (const x of [90, 170, 190]) out += rect(x, 90, cell, cell, coin);
    out += rect(30, 80, 20, 10, hero) + rect(30, 90, 20, 20, water) + rect(35, 85, 5, 5, '#fff');
    return out;
  },
  cute: ([pink, blue, mint, lemon, ink]) =>
    rect(0, 0, W, H, blue) +
    circle(40, 30, 18, '#fff') +
    circle(60, 28, 22, '#fff') +
    rect(0, 110, W, 50, mint) +
    circle(120, 92, 34, pink, ` stroke="${ink}" stroke-width="3"`) +
    circle(108, 86, 5, ink) +
    circle(132, 86, 5, ink) +
    circle(100, 98, 6, '#ff8fab', ' fill-opacity="0.7"') +
    circle(140, 98, 6, '#ff8fab', ' fill-opacity="0.7"') +
    `<path d="M114 100 q6 6 12 0" stroke="${ink}" stroke-width="3" fill="none" stroke-linecap="round"/>` +
    poly(
      [
        [190, 40],
        [195, 52],
        [208, 52],
        [198, 60],
        [202, 72],
        [190, 64],
        [178, 72],
        [182, 60],
        [172, 52],
        [185, 52],
      ],
      lemon,
      ` stroke="${ink}" stroke-width="2"`,
    ),
  'neon-grid': ([bg, magenta, cyan, light, orange]) => {
    let out =
      rect(0, 0, W, H, bg) +
      `<defs><linearGradient id="sun" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${orange}"/><stop offset="1" stop-color="${magenta}"/></linearGradient></defs>`;
    out += circle(120, 70, 40, 'url(#sun)');
    for (let y = 50; y < 110; y += 10) out += rect(80, y, 80, 3, bg);
    out += rect(0, 90, W, 70, bg);
    for (let i = 0; i <= 12; i++) out += `<line x1="${120 + (i - 6) * 8}" y1="90" x2="${120 + (i - 6) * 60}" y2="160" stroke="${cyan}" stroke-width="1.5"/>`;
    for (const y of [94, 102, 114, 132, 158]) out += `<line x1="0" y1="${y}" x2="${W}" y2="${y}" stroke="${cyan}" stroke-width="1.5"/>`;
    return out + `<line x1="0" y1="90" x2="${W}" y2="90" stroke="${light}" stroke-width="2"/>`;
  },
  shapes: ([paper, ink, red, grey]) =>
    rect(0, 0, W, H, paper) +
    circle(70, 70, 30, red) +
    rect(120, 45, 50, 50, ink) +
    poly(
      [
        [190, 95],
        [215, 50],
        [240, 95],
      ],
      grey,
    ) +
    rect(0, 110, W, 2, ink),
  wash: ([paper, aqua, blue, orange, yellow]) => {
    const blur = '<defs><filter id="w" x="-30%" y="-30%" width="160%" height="160%"><feGaussianBlur stdDeviation="6"/></filter></defs>';
    return (
      blur +
      rect(0, 0, W, H, paper) +
      `<g filter="url(#w)" fill-opacity="0.55">${circle(60, 50, 40, aqua)}${circle(170, 45, 35, yellow)}${circle(120, 110, 55, blue)}${circle(190, 120, 30, orange)}</g>`
    );
  },
  sketch: ([paper, pencil, grey, red, line]) => {
    const next = sequence(7);
    let out = rect(0, 0, W, H, paper);
    for (let y = 20; y < H; y += 16) out += `<line x1="0" y1="${y}" x2="${W}" y2="${y}" stroke="${line}" stroke-width="1"/>`;
    out += `<line x1="30" y1="0" x2="30" y2="${H}" stroke="${red}" stroke-width="1"/>`;
    for (let i = 0; i < 3; i++) {
      const j = () => (next() - 0.5) * 4;
      out += `<path d="M${80 + j()} ${110 + j()} L${120 + j()} ${50 + j()} L${160 + j()} ${110 + j()} Z" fill="none" stroke="${pencil}" stroke-width="1.5"/>`;
    }
    for (let x = 95; x < 150; x += 6) out += `<line x1="${x}" y1="108" x2="${x + 10}" y2="90" stroke="${grey}" stroke-width="1"/>`;
    return out;
  },
  silhouette: ([black, fog1, fog2, glow]) =>
    rect(0, 0, W, H, fog2) +
    rect(0, 60, W, 100, fog1, ' fill-opacity="0.6"') +
    circle(190, 40, 18, '#e8e8e8', ' fill-opacity="0.8"') +
    poly(
      [
        [0, 130],
        [40, 118],
        [90, 126],
        [150, 112],
        [240, 124],
        [240, 160],
        [0, 160],
      ],
      black,
    ) +
    `<path d="M40 130 L40 70 M40 90 L25 75 M40 85 L58 68" stroke="${black}" stroke-width="5" fill="none"/>` +
    rect(112, 96, 14, 22, black) +
    circle(119, 90, 9, black) +
    circle(116, 89, 2, glow) +
    circle(122, 89, 2, glow),
  halftone: ([yellow, red, blue, white, black]) => {
    let out =
      `<defs><pattern id="dots" width="8" height="8" patternUnits="userSpaceOnUse">${circle(4, 4, 2.2, red)}</pattern></defs>` +
      rect(0, 0, W, H, yellow) +
      rect(0, 0, W, H, 'url(#dots)');
    out += poly(
      [
        [120, 20],
        [135, 55],
        [175, 45],
        [150, 75],
        [190, 100],
        [145, 100],
        [130, 135],
        [115, 100],
        [65, 110],
        [100, 78],
        [60, 50],
        [105, 55],
      ],
      white,
      ` stroke="${black}" stroke-width="4"`,
    );
    return (
      out +
      `<text x="92" y="88" font-family="Impact, sans-serif" font-size="26" font-weight="900" fill="${blue}" stroke="${black}" stroke-width="1.5">POW!</text>`
    );
  },
  facets: ([deep, teal, sand, orange, coral]) =>
    rect(0, 0, W, H, '#bde0fe') +
    poly(
      [
        [0, 120],
        [60, 60],
        [110, 120],
      ],
      teal,
    ) +
    poly(
      [
        [60, 60],
        [110, 120],
        [130, 90],
      ],
      deep,
    ) +
    poly(
      [
        [100, 120],
        [170, 40],
        [240, 120],
      ],
      orange,
    ) +
    poly(
      [
        [170, 40],
        [240, 120],
        [200, 120],
      ],
      coral,
    ) +
    rect(0, 120, W, 40, sand) +
    poly(
      [
        [0, 120],
        [80, 120],
        [40, 160],
        [0, 160],
      ],
      '#d4a373',
    ),
  toon: ([red, yellow, green, blue, purple]) =>
    rect(0, 0, W, H, '#a0e7ff') +
    rect(0, 118, W, 42, green, ' stroke="#111" stroke-width="3"') +
    circle(120, 80, 38, red, ' stroke="#111" stroke-width="4"') +
    `<path d="M120 42 A38 38 0 0 1 158 80 L120 80 Z" fill="${yellow}" fill-opacity="0.55"/>` +
    circle(105, 70, 7, '#fff', ' stroke="#111" stroke-width="2"') +
    circle(135, 70, 7, '#fff', ' stroke="#111" stroke-width="2"') +
    circle(106, 71, 3, '#111') +
    circle(136, 71, 3, '#111') +
    rect(190, 80, 24, 38, blue, ' stroke="#111" stroke-width="3"') +
    circle(40, 40, 14, purple, ' stroke="#111" stroke-width="3"'),
  voxels: ([grass, dirt, water, gold, stone]) => {
    let out = rect(0, 0, W, H, '#87ceeb');
    const cube = (x: number, y: number, top: string, side: string) =>
      poly(
        [
          [x, y],
          [x + 16, y - 8],
          [x + 32, y],
          [x + 16, y + 8],
        ],
        top,
      ) +
      poly(
        [
          [x, y],
          [x + 16, y + 8],
          [x + 16, y + 26],
          [x, y + 18],
        ],
        side,
      ) +
      poly(
        [
          [x + 32, y],
          [x + 16, y + 8],
          [x + 16, y + 26],
          [x + 32, y + 18],
        ],
        shade(side),
      );
    for (let i = 0; i < 7; i++) out += cube(8 + i * 32, 110, i === 3 ? water : grass, dirt);
    for (let i = 0; i < 3; i++) out += cube(40 + i * 32, 92 - (i === 1 ? 18 : 0), grass, dirt);
    return out + cube(170, 84, gold, stone) + cube(186, 58, stone, stone);
  },
  pbr: ([dark, mid, light, warm, cool]) =>
    `<defs><radialGradient id="ball" cx="0.35" cy="0.35" r="0.7"><stop offset="0" stop-color="#fff"/><stop offset="0.25" stop-color="${light}"/><stop offset="1" stop-color="${dark}"/></radialGradient>` +
    `<linearGradient id="floor" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${mid}"/><stop offset="1" stop-color="${dark}"/></linearGradient>` +
    `<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${cool}"/><stop offset="1" stop-color="${light}"/></linearGradient></defs>` +
    rect(0, 0, W, 100, 'url(#sky)') +
    rect(0, 100, W, 60, 'url(#floor)') +
    `<ellipse cx="120" cy="128" rx="40" ry="8" fill="#000" fill-opacity="0.35"/>` +
    circle(120, 92, 34, 'url(#ball)') +
    rect(180, 80, 26, 46, warm, ' fill-opacity="0.9"'),
  isometric: ([bg, lilac, sky, pink, plum]) =>
    rect(0, 0, W, H, bg) +
    poly(
      [
        [120, 40],
        [180, 70],
        [120, 100],
        [60, 70],
      ],
      sky,
    ) +
    poly(
      [
        [60, 70],
        [120, 100],
        [120, 140],
        [60, 110],
      ],
      lilac,
    ) +
    poly(
      [
        [180, 70],
        [120, 100],
        [120, 140],
        [180, 110],
      ],
      plum,
    ) +
    poly(
      [
        [120, 20],
        [140, 30],
        [120, 40],
        [100, 30],
      ],
      pink,
    ) +
    poly(
      [
        [100, 30],
        [120, 40],
        [120, 62],
        [100, 52],
      ],
      lilac,
    ) +
    poly(
      [
        [140, 30],
        [120, 40],
        [120, 62],
        [140, 52],
      ],
      plum,
    ),
};

/** A darker shade of a #rrggbb colour (the shaded side of a cube). */
function shade(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  const f = (v: number) =>
    Math.round(v * 0.7)
      .toString(16)
      .padStart(2, '0');
  return `#${f(n >> 16)}${f((n >> 8) & 255)}${f(n & 255)}`;
}
