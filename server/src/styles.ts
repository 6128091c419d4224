/**
 * Visual styles: the step before a project's first generation (docs/protocol.md, "The style question").
 *
 * A creation request that names a dimension ("2Dのシューティングゲームを作って", "make a 3D racing game") in a project
 * whose STYLE.md is missing or empty gets `styleOptions` instead of a job. The client answers with the same message and
 * `selectedStyle` (STYLE.md is written and the style's guideline goes to the agent with the prompt) or with
 * `skipStyleSelection` (STYLE.md says `# SKIPPED`, so the question is not asked again).
 *
 * Each style's preview card is drawn from its own palette (style-previews.ts).
 */

export type Dimension = '2d' | '3d';

export interface VisualStyle {
  id: string;
  /** Japanese name (the `name` V2's clients show). */
  name: string;
  nameEn: string;
  description: string;
  palette: [string, string, string, string, string];
  /** Design rules for the agent, after the palette. */
  rules: string;
  /** How the preview card is drawn. */
  motif: Motif;
}

/** The scene a style's preview card shows (style-previews.ts). */
export type Motif =
  'pixels' | 'cute' | 'neon-grid' | 'shapes' | 'wash' | 'sketch' | 'silhouette' | 'halftone' | 'facets' | 'toon' | 'voxels' | 'pbr' | 'isometric';

const s = (id: string, name: string, nameEn: string, description: string, palette: VisualStyle['palette'], motif: Motif, rules: string): VisualStyle => ({
  id,
  name,
  nameEn,
  description,
  palette,
  motif,
  rules,
});

export const STYLES: Record<Dimension, readonly VisualStyle[]> = {
  '2d': [
    s(
      'retro',
      'レトロドット絵',
      'Retro pixel',
      '8/16-bit pixel art with a small palette',
      ['#1d2b53', '#29adff', '#00e436', '#ffec27', '#ff004d'],
      'pixels',
      'Draw everything as crisp pixel art on a coarse grid (scale sprites up with imageSmoothingEnabled = false); at most 16 colours; no gradients or anti-aliasing; chunky pixel font for the HUD; tile-based backgrounds.',
    ),
    s(
      'kawaii',
      'KAWAII',
      'Kawaii',
      'Pastel colours, round shapes, faces on everything',
      ['#ffd1dc', '#bde0fe', '#caffbf', '#fff1a8', '#5a3e4b'],
      'cute',
      'Round every corner; pastel fills with thin dark-brown outlines; characters are 2–3 heads tall with big eyes and blush; sparkles, stars and hearts as effects; rounded UI buttons.',
    ),
    s(
      'neon',
      'ネオンサイバー',
      'Neon cyber',
      'Glowing lines on a dark synthwave grid',
      ['#0d0221', '#ff2a6d', '#05d9e8', '#d1f7ff', '#ff9e00'],
      'neon-grid',
      'Dark background; shapes drawn as bright outlines with glow (shadowBlur); perspective grid floor and a striped sun; magenta/cyan accents; HUD text with glow.',
    ),
    s(
      'minimal',
      'ミニマル',
      'Minimal',
      'Flat geometric shapes, lots of space, few colours',
      ['#f4f1ea', '#2b2d42', '#ef233c', '#8d99ae', '#edf2f4'],
      'shapes',
      'Only circles, squares and triangles; 3–4 colours; flat fills, no outlines or textures; generous empty space; thin sans-serif UI.',
    ),
    s(
      'watercolor',
      '水彩画風',
      'Watercolour',
      'Soft washes, bleeding edges, paper texture',
      ['#f7f3e9', '#a8dadc', '#457b9d', '#f4a261', '#e9c46a'],
      'wash',
      'Soft translucent blobs layered with globalAlpha; blurred edges; warm paper-coloured background; no hard outlines; gentle, dreamy motion.',
    ),
    s(
      'hand_drawn',
      '手描き風',
      'Hand-drawn',
      'Pencil sketch on notebook paper',
      ['#fbf8ef', '#2f2f2f', '#6b6b6b', '#c0392b', '#a4c8e1'],
      'sketch',
      'Wobbly pencil lines (jitter each stroke slightly), cross-hatching for shade, ruled-paper background, one accent colour (red pen), handwritten-looking UI.',
    ),
    s(
      'dark',
      'ダーク',
      'Dark silhouette',
      'Black silhouettes in fog, Limbo-like',
      ['#0b0c10', '#1f2833', '#c5c6c7', '#66fcf1', '#45a29e'],
      'silhouette',
      'Characters and scenery as black silhouettes against misty grey layers; only the eyes or key items glow; muted, moody, minimal HUD.',
    ),
    s(
      'comic',
      'コミック風',
      'Comic book',
      'Bold outlines, halftone dots, POW!',
      ['#fff200', '#ed1c24', '#0072bc', '#ffffff', '#111111'],
      'halftone',
      'Thick black outlines; primary colours; halftone dot shading; speech-bubble UI; onomatopoeia text (POW!, BAM!) on hits; action lines.',
    ),
  ],
  '3d': [
    s(
      'lowpoly',
      'ローポリ',
      'Low poly',
      'Faceted shapes with flat shading',
      ['#264653', '#2a9d8f', '#e9c46a', '#f4a261', '#e76f51'],
      'facets',
      'Low-polygon meshes with flatShading: true; bright, cheerful materials; geometric terrain; simple directional light plus ambient; no textures needed.',
    ),
    s(
      'toon',
      'トゥーン',
      'Toon',
      'Cel-shaded with outlines, like an animated film',
      ['#ff595e', '#ffca3a', '#8ac926', '#1982c4', '#6a4c93'],
      'toon',
      'MeshToonMaterial with a 3-step gradient map; black outlines (inverted hull or OutlineEffect); saturated colours; bouncy, exaggerated animation.',
    ),
    s(
      'voxel',
      'ボクセル',
      'Voxel',
      'Everything built from cubes',
      ['#7cb518', '#5c4033', '#3a86ff', '#ffbe0b', '#d9d9d9'],
      'voxels',
      'Build every object from unit cubes (InstancedMesh for many); blocky characters; grid-aligned world; flat colours per cube.',
    ),
    s(
      'realistic',
      'リアル風',
      'Realistic',
      'Physically based materials and lighting',
      ['#2d3436', '#636e72', '#b2bec3', '#e17055', '#0984e3'],
      'pbr',
      'MeshStandardMaterial with sensible roughness/metalness; soft shadows; fog for depth; restrained colours; clean semi-transparent HUD.',
    ),
    s(
      'neon',
      'ネオン',
      'Neon',
      'Dark space, glowing edges, synthwave',
      ['#0a0a1a', '#ff00ff', '#00ffff', '#e0f7ff', '#ff8800'],
      'neon-grid',
      'Dark scene; emissive materials and bright edges (EdgesGeometry lines); grid floor; glow via bloom if available, else additive sprites.',
    ),
    s(
      'isometric',
      'アイソメトリック',
      'Isometric',
      'Pastel dioramas seen from a fixed angle',
      ['#f8edeb', '#cdb4db', '#a2d2ff', '#ffafcc', '#6d597a'],
      'isometric',
      'Orthographic camera at a fixed isometric angle; pastel flat materials; small diorama-like levels; calm animation; minimal UI at the edges.',
    ),
  ],
};

/** `2D`/`3D` (also full-width ２Ｄ/３Ｄ) in a message that asks for a game to be made. */
const CREATION = /作って|作成|作る|つくって|create|make|build|game|ゲーム/i;
const DIMENSION = /(?:^|[^0-9０-９])([23２３])\s*[dDｄＤ](?![a-z])/;

/** The dimension a creation request names, or null when it is not one or names none. */
export function requestedDimension(content: string): Dimension | null {
  if (!CREATION.test(content)) return null;
  const match = DIMENSION.exec(content);
  if (!match) return null;
  return match[1] === '2' || match[1] === '２' ? '2d' : '3d';
}

export function findStyle(dimension: string, styleId: string): VisualStyle | undefined {
  if (dimension !== '2d' && dimension !== '3d') return undefined;
  return STYLES[dimension].find((style) => style.id === styleId);
}

/** The `styles` list of a `styleOptions` message. */
export function styleOptions(dimension: Dimension) {
  return STYLES[dimension].map((style) => ({
    id: style.id,
    name: style.name,
    nameEn: style.nameEn,
    description: style.description,
    imageUrl: `/styles/${dimension}/${style.id}.svg`,
  }));
}

/** STYLE.md of a project once a style is chosen; the agent is pointed at it on later turns by its session. */
export function styleRecord(dimension: Dimension, style: VisualStyle): string {
  return `# ${style.nameEn} (${style.name})\n\nid: ${style.id}\ndimension: ${dimension}\n\n${styleGuideline(dimension, style)}\n`;
}

export const SKIPPED_STYLE = '# SKIPPED\n\nThe user chose not to pick a visual style.\n';

export function styleGuideline(dimension: Dimension, style: VisualStyle): string {
  const kind = dimension === '3d' ? 'a 3D game (three.js)' : 'a 2D game (canvas)';
  return [`Visual style: ${style.nameEn} — ${style.description}, for ${kind}.`, `Palette: ${style.palette.join(', ')}.`, style.rules].join('\n');
}

/** The prompt the agent gets for a message sent with a chosen style: the user's words first (they name the version). */
export function promptWithStyle(content: string, dimension: Dimension, style: VisualStyle): string {
  return `${content}\n\n---\nThe user chose this visual style for the game (it is saved in STYLE.md; keep to it in later changes too):\n${styleGuideline(dimension, style)}`;
}

// ---------------------------------------------------------------- the gate

export type StyleDecision =
  /** Run the message: with this prompt, writing `styleFile` as STYLE.md first when there is one. */
  | { kind: 'proceed'; prompt: string; styleFile: string | null }
  /** Ask which style (`styleOptions`); no job. */
  | { kind: 'ask'; dimension: Dimension }
  /** A question is already open in this project (`info`); no job. */
  | { kind: 'remind'; dimension: Dimension }
  | { kind: 'invalid'; detail: string };

export interface StyledMessage {
  content: string;
  selectedStyle?: { dimension: string; styleId: string };
  skipStyleSelection?: boolean;
}

/**
 * What a chat message does about the visual style (docs/protocol.md, `message`, step 3). `pending` is the dimension of
 * a question still open in this project; `hasStyle` says whether STYLE.md already holds a decision (read only if needed).
 */
export async function decideStyle(msg: StyledMessage, pending: Dimension | null, hasStyle: () => Promise<boolean>): Promise<StyleDecision> {
  if (msg.selectedStyle) {
    const { dimension, styleId } = msg.selectedStyle;
    const style = findStyle(dimension, styleId);
    if (!style) return { kind: 'invalid', detail: `Unknown style ${dimension}/${styleId}` };
    return { kind: 'proceed', prompt: promptWithStyle(msg.content, dimension as Dimension, style), styleFile: styleRecord(dimension as Dimension, style) };
  }
  if (msg.skipStyleSelection) {
    // A skip never overwrites a style already chosen.
    return { kind: 'proceed', prompt: msg.content, styleFile: (await hasStyle()) ? null : SKIPPED_STYLE };
  }
  if (pending) return { kind: 'remind', dimension: pending };
  const dimension = requestedDimension(msg.content);
  if (dimension && !(await hasStyle())) return { kind: 'ask', dimension };
  return { kind: 'proceed', prompt: msg.content, styleFile: null };
}
