/**
 * Asset naming and image-prompt building, shared by every backend (pure functions, no I/O).
 *
 * Naming follows DreamCore-V2 (docs/protocol.md, "Assets and images"): the public alias is the base name with every character outside
 * `[A-Za-z0-9_-]` replaced by `_`, cut to 32, plus the lower-cased extension; a collision appends `_2`, `_3`, ….
 * The file is stored as `{aliasBase}_{sha256[:8]}{ext}` in the user's asset space. V2 kept the alias in a database
 * row; a backend has only the asset space, so the aliases in use are read back from the stored names.
 */
import { createError } from './errors.js';
import { validateUserScope } from './scope.js';
import type { GenerateImageRequest, ImageStyle, UserScope } from './contract.js';

export const ALIAS_BASE_MAX_LENGTH = 32;
/** Used when a name has nothing left after sanitising (V2 would have produced an alias like `.png`). */
export const FALLBACK_ALIAS_BASE = 'asset';
/** Used when a prompt yields no usable ASCII word (a prompt in Japanese, say). */
export const FALLBACK_IMAGE_BASE = 'image';

const UNSAFE_ALIAS_CHAR = /[^A-Za-z0-9_-]/g;
const EXTENSION = /^\.[a-z0-9]{1,10}$/;
// `{aliasBase}_{8 hex}{ext}`: the greedy base keeps any earlier `_xxxxxxxx` that belongs to the alias itself.
const STORED_NAME = /^(.+)_([0-9a-f]{8})(\.[a-z0-9]{1,10})?$/;

/** `path.extname` semantics without node:path: a leading dot is part of the name, not an extension. */
export function splitExtension(fileName: string): { base: string; ext: string } {
  const dot = fileName.lastIndexOf('.');
  if (dot <= 0) return { base: fileName, ext: '' };
  return { base: fileName.slice(0, dot), ext: fileName.slice(dot).toLowerCase() };
}

/** V2's rule: characters outside `[A-Za-z0-9_-]` become `_` (per UTF-16 unit, as V2's regex did), then cut to 32. */
export function sanitizeAliasBase(base: string): string {
  const cleaned = base.replace(UNSAFE_ALIAS_CHAR, '_').slice(0, ALIAS_BASE_MAX_LENGTH);
  return cleaned === '' ? FALLBACK_ALIAS_BASE : cleaned;
}

/** A readable default alias base for a generated image: the prompt's ASCII words, lower-cased, joined by `_`. */
export function aliasBaseFromPrompt(prompt: string): string {
  const words = prompt
    .toLowerCase()
    .replace(/\[[^\]]*\]/g, ' ') // bracketed directives are not part of what the image shows
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  const base = words.slice(0, ALIAS_BASE_MAX_LENGTH).replace(/_+$/, '');
  return base === '' ? FALLBACK_IMAGE_BASE : base;
}

/** `{aliasBase}_{sha256[:8]}{ext}`: the name an asset is stored under. */
/**
 * The stored file behind an alias in a user's asset space: `{aliasBase}_{sha8}{ext}` (storedAssetName), or a file
 * named as the alias itself (V2's older layout). Null when none of `names` is it.
 */
export function assetFileForAlias(alias: string, names: readonly string[]): string | null {
  if (names.includes(alias)) return alias;
  const dot = alias.lastIndexOf('.');
  const [base, ext] = dot > 0 ? [alias.slice(0, dot), alias.slice(dot)] : [alias, ''];
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const stored = new RegExp(`^${escape(base)}_[0-9a-f]{8}${escape(ext)}$`);
  return names.find((name) => stored.test(name)) ?? null;
}

export function storedAssetName(aliasBase: string, sha256: string, ext: string): string {
  if (!/^[0-9a-f]{8,64}$/.test(sha256)) {
    throw createError('INVALID_ARGUMENT', 'sha256 must be lower-case hex', { details: { sha256: sha256.slice(0, 80) } });
  }
  return `${aliasBase}_${sha256.slice(0, 8)}${ext}`;
}

export interface StoredAssetName {
  alias: string;
  aliasBase: string;
  hashPrefix: string;
  ext: string;
}

/** The inverse of `storedAssetName`; null for a name that is not in that form. */
export function parseStoredAssetName(fileName: string): StoredAssetName | null {
  const match = STORED_NAME.exec(fileName);
  if (!match) return null;
  const [, aliasBase = '', hashPrefix = '', ext = ''] = match;
  return { alias: `${aliasBase}${ext}`, aliasBase, hashPrefix, ext };
}

/**
 * Every alias that the given file names occupy. A stored name occupies its alias; any other file name occupies
 * itself, so a file put there by other means is never shadowed by a new alias. Lower-cased: aliases that differ only
 * in case would name the same file on a case-insensitive file system or CDN, so they count as a collision.
 */
export function aliasesInUse(fileNames: Iterable<string>): Set<string> {
  const used = new Set<string>();
  for (const name of fileNames) {
    used.add(name.toLowerCase());
    const parsed = parseStoredAssetName(name);
    if (parsed) used.add(parsed.alias.toLowerCase());
  }
  return used;
}

export interface PickedAlias {
  /** Public name: `{aliasBase}{ext}`. */
  alias: string;
  /** The alias without its extension, collision suffix included (`coin_2`). */
  aliasBase: string;
  /** Lower-cased, with the dot (`.png`), or ''. */
  ext: string;
}

/**
 * Picks the alias for a new asset called `originalName` (a file name: base and extension), given the names of the
 * files already in the user's asset space (top level). First free of `base`, `base_2`, `base_3`, ….
 */
export function pickAlias(originalName: string, existingFileNames: Iterable<string>): PickedAlias {
  const { base, ext } = splitExtension(originalName);
  if (ext !== '' && !EXTENSION.test(ext)) {
    throw createError('INVALID_ARGUMENT', 'file extension must be 1 to 10 letters or digits', {
      details: { name: originalName.slice(0, 200) },
    });
  }
  const aliasBase = sanitizeAliasBase(base);
  const used = aliasesInUse(existingFileNames);
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? aliasBase : `${aliasBase}_${n}`;
    if (!used.has(`${candidate}${ext}`.toLowerCase())) return { alias: `${candidate}${ext}`, aliasBase: candidate, ext };
  }
}

// ---------------------------------------------------------------- image prompts

export const IMAGE_STYLES: readonly ImageStyle[] = ['pixel', 'anime', 'kawaii', 'realistic', 'watercolor', 'flat'];

export function isImageStyle(value: unknown): value is ImageStyle {
  return typeof value === 'string' && (IMAGE_STYLES as readonly string[]).includes(value);
}

/** Appended to the user's prompt for each style. */
export const STYLE_HINTS: Readonly<Record<ImageStyle, string>> = {
  pixel: 'Style: pixel art game sprite, crisp hard-edged pixels, limited retro palette, no blur or dithering noise.',
  anime: 'Style: anime illustration, clean confident line art, cel shading, bright saturated colours.',
  kawaii: 'Style: kawaii, cute chibi proportions, soft rounded shapes, thick clean outlines, cheerful colours.',
  realistic: 'Style: realistic, detailed materials and textures, natural lighting.',
  watercolor: 'Style: watercolour painting, soft washes and gentle gradients inside the subject, hand-painted look.',
  flat: 'Style: flat vector illustration, solid fills, simple geometric shapes, no gradients or textures.',
};

/** The colour a sprite is drawn on so it can be keyed out: pure magenta, rare in subjects and far from skin tones. */
export const SPRITE_KEY_COLOR = { r: 255, g: 0, b: 255 } as const;

/**
 * The transparent-sprite trick: image models cannot emit alpha, so ask for a flat magenta backdrop and key it out.
 * Each sentence closes a way models spoil the key: gradients, shadows and floors, magenta in the subject, cropping.
 */
export const SPRITE_BACKGROUND_INSTRUCTION =
  'Draw one isolated game sprite, centred, on a solid pure magenta (#FF00FF) background that fills the entire image. ' +
  'The background must be a single flat colour: no gradient, vignette, shadow, floor, texture, border or scenery. ' +
  'Do not use magenta, pink or purple anywhere in the subject. ' +
  'Keep the whole subject inside the frame with a small margin around it.';

export interface ImagePromptInput {
  prompt: string;
  style?: ImageStyle;
  /** Ask for the keyable magenta backdrop (default true). */
  transparent?: boolean;
}

/** The text sent to the image model: the user's prompt, the style hint, and the sprite instruction when keying. */
export function buildImagePrompt({ prompt, style, transparent = true }: ImagePromptInput): string {
  const parts = [prompt.trim()];
  if (style !== undefined) parts.push(STYLE_HINTS[style]);
  if (transparent) parts.push(SPRITE_BACKGROUND_INSTRUCTION);
  return parts.join('\n\n');
}

/** Aspect ratios Gemini image models accept in `imageConfig.aspectRatio`. */
export const GEMINI_ASPECT_RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'] as const;
export type GeminiAspectRatio = (typeof GEMINI_ASPECT_RATIOS)[number];

/** The supported ratio nearest to `width:height` (compared in log space, so 2:1 and 1:2 are equally far from 1:1). */
export function closestAspectRatio(width: number, height: number): GeminiAspectRatio {
  const target = Math.log(width / height);
  let best: GeminiAspectRatio = '1:1';
  let bestDistance = Infinity;
  for (const ratio of GEMINI_ASPECT_RATIOS) {
    const [w = 1, h = 1] = ratio.split(':').map(Number);
    const distance = Math.abs(Math.log(w / h) - target);
    if (distance < bestDistance) {
      best = ratio;
      bestDistance = distance;
    }
  }
  return best;
}

// ---------------------------------------------------------------- image requests

export const IMAGE_SIZE_MIN = 16;
export const IMAGE_SIZE_MAX = 2048;
export const DEFAULT_IMAGE_SIZE = 512;
export const MAX_IMAGE_PROMPT_LENGTH = 4000;
export const MAX_ASSET_NAME_LENGTH = 200;

export interface NormalizedImageRequest {
  scope: UserScope;
  /** Trimmed. */
  prompt: string;
  style?: ImageStyle;
  width: number;
  height: number;
  transparent: boolean;
  /** The name the alias is picked from (`pickAlias`): `{name or prompt-derived base}.png`. */
  fileName: string;
}

function invalid(message: string, details: Record<string, unknown>): never {
  throw createError('INVALID_ARGUMENT', message, { details });
}

function checkSize(value: unknown, field: 'width' | 'height'): number {
  if (value === undefined) return DEFAULT_IMAGE_SIZE;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < IMAGE_SIZE_MIN || value > IMAGE_SIZE_MAX) {
    invalid(`${field} must be an integer from ${IMAGE_SIZE_MIN} to ${IMAGE_SIZE_MAX}`, {
      field,
      value: typeof value === 'number' ? value : typeof value,
    });
  }
  return value;
}

/**
 * Checks a GenerateImageRequest and fills in the defaults, identically for every backend: INVALID_SCOPE for a bad
 * user id, INVALID_ARGUMENT for anything else, before any provider is called.
 */
export function normalizeImageRequest(request: GenerateImageRequest): NormalizedImageRequest {
  if (typeof request !== 'object' || request === null) invalid('request must be an object', {});
  const scope = validateUserScope(request.scope);
  const { prompt, style, transparent, name } = request;
  if (typeof prompt !== 'string' || prompt.trim() === '') invalid('prompt is required', { field: 'prompt' });
  if (prompt.length > MAX_IMAGE_PROMPT_LENGTH) {
    invalid(`prompt is longer than ${MAX_IMAGE_PROMPT_LENGTH} characters`, { field: 'prompt', length: prompt.length });
  }
  if (style !== undefined && !isImageStyle(style)) {
    invalid(`style must be one of ${IMAGE_STYLES.join(', ')}`, { field: 'style', value: String(style).slice(0, 40) });
  }
  if (transparent !== undefined && typeof transparent !== 'boolean') {
    invalid('transparent must be a boolean', { field: 'transparent' });
  }
  let base: string;
  if (name === undefined) {
    base = aliasBaseFromPrompt(prompt);
  } else {
    if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_ASSET_NAME_LENGTH) {
      invalid(`name must be a non-empty string of at most ${MAX_ASSET_NAME_LENGTH} characters`, { field: 'name' });
    }
    // The output is always PNG: a caller who wrote `coin.png` means the alias `coin.png`, not `coin_png.png`.
    base = name.trim().replace(/\.png$/i, '') || FALLBACK_ALIAS_BASE;
  }
  return {
    scope,
    prompt: prompt.trim(),
    ...(style === undefined ? {} : { style }),
    width: checkSize(request.width, 'width'),
    height: checkSize(request.height, 'height'),
    transparent: transparent ?? true,
    fileName: `${base}.png`,
  };
}
