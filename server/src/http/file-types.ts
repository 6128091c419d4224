/**
 * What an uploaded asset is: its extension and declared MIME type must both be allowed (V2's rule), and its bytes
 * must look like that type (magic numbers; JSON must parse; SVG is sanitised, not sniffed). Pure functions.
 */
import { splitExtension } from '@dreamcore/runtime-core';
import { sanitizeSvg, SvgError } from './svg.js';

/** Extension (with the dot) → the MIME type stored and served for it. A Map: the extension comes from the upload. */
export const ASSET_TYPES: ReadonlyMap<string, string> = new Map([
  ['.jpg', 'image/jpeg'],
  ['.jpeg', 'image/jpeg'],
  ['.png', 'image/png'],
  ['.gif', 'image/gif'],
  ['.webp', 'image/webp'],
  ['.svg', 'image/svg+xml'],
  ['.mp3', 'audio/mpeg'],
  ['.wav', 'audio/wav'],
  ['.ogg', 'audio/ogg'],
  ['.json', 'application/json'],
]);
const ALLOWED_WORDS = ['jpeg', 'jpg', 'png', 'gif', 'webp', 'svg', 'mp3', 'wav', 'ogg', 'json'];
/** Subtypes browsers really send for those extensions that do not spell one of the words (`audio/mpeg` for .mp3). */
const SUBTYPE_ALIASES: ReadonlyMap<string, string> = new Map([
  ['mpeg', 'mp3'],
  ['mpeg3', 'mp3'],
  ['pjpeg', 'jpeg'],
  ['wave', 'wav'],
  ['vnd.wave', 'wav'],
]);

export const ALLOWED_TYPES_MESSAGE = `Invalid file type. Allowed: ${ALLOWED_WORDS.join(', ')}`;

/** `image/svg+xml; charset=utf-8` → `svg`; `audio/x-wav` → `wav`; `audio/mpeg` → `mp3`; null when not allowed. */
export function allowedSubtype(mimeType: string): string | null {
  const essence = mimeType.split(';')[0]!.trim().toLowerCase();
  const slash = essence.indexOf('/');
  if (slash <= 0) return null;
  let subtype = essence
    .slice(slash + 1)
    .replace(/^x-/, '')
    .replace(/\+xml$/, '');
  subtype = SUBTYPE_ALIASES.get(subtype) ?? subtype;
  return ALLOWED_WORDS.includes(subtype) ? subtype : null;
}

export type TypeCheck = { ok: true; ext: string; mimeType: string } | { ok: false; error: string };

/** V2's rule: the extension AND the declared MIME subtype must both be among the allowed types. */
export function checkAssetType(fileName: string, declaredMime: string): TypeCheck {
  const { ext } = splitExtension(fileName);
  const mimeType = ASSET_TYPES.get(ext);
  if (!mimeType || !allowedSubtype(declaredMime)) return { ok: false, error: ALLOWED_TYPES_MESSAGE };
  return { ok: true, ext, mimeType };
}

function startsWith(bytes: Uint8Array, signature: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  return signature.every((b, i) => bytes[offset + i] === b);
}
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** Do the bytes look like a file of type `ext`? (Magic numbers; JSON must parse; SVG is checked by the sanitiser.) */
export function contentMatchesType(ext: string, bytes: Uint8Array): boolean {
  switch (ext) {
    case '.png':
      return startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    case '.jpg':
    case '.jpeg':
      return startsWith(bytes, [0xff, 0xd8, 0xff]);
    case '.gif':
      return startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'));
    case '.webp':
      return startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8);
    case '.wav':
      return startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WAVE'), 8);
    case '.ogg':
      return startsWith(bytes, ascii('OggS'));
    case '.mp3':
      return startsWith(bytes, ascii('ID3')) || (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0);
    case '.json':
      try {
        JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, ''));
        return true;
      } catch {
        return false;
      }
    case '.svg':
      return true;
    default:
      return false;
  }
}

/**
 * The bytes to store for an upload: SVG sanitised, everything else checked against its type. Returns an error
 * message for the client instead of throwing.
 */
export function prepareAssetBytes(ext: string, bytes: Uint8Array): { ok: true; bytes: Uint8Array } | { ok: false; error: string } {
  if (bytes.length === 0) return { ok: false, error: 'File is empty' };
  if (ext === '.svg') {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return { ok: false, error: 'Invalid SVG file: not UTF-8 text' };
    }
    try {
      return { ok: true, bytes: new TextEncoder().encode(sanitizeSvg(text)) };
    } catch (error) {
      if (error instanceof SvgError) return { ok: false, error: `Invalid SVG file: ${error.message}` };
      throw error;
    }
  }
  if (!contentMatchesType(ext, bytes)) return { ok: false, error: `File content does not match its type (${ext.slice(1)})` };
  return { ok: true, bytes };
}

/**
 * The name the alias is picked from: the display name's base (its extension dropped when it is an asset type) with
 * the real file's extension.
 */
export function aliasSourceName(displayName: string, ext: string): string {
  const split = splitExtension(displayName.trim());
  const base = split.ext !== '' && (split.ext === ext || ASSET_TYPES.has(split.ext)) ? split.base : displayName.trim();
  return `${base || 'asset'}${ext}`;
}
