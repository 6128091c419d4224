/**
 * Uploaded pictures made to fit (sharp): the asset library's compressed uploads and profile pictures.
 *
 * Asset uploads (`fitAssetImage`): a picture may arrive at up to 12 MB (a phone photo, a big screenshot) but is stored
 * at most 2048 px on its longest side and at most 1 MB (V2's stored-asset limit, so a game still loads quickly on a
 * phone). A picture already within both is stored byte for byte; a bigger one is resized and re-encoded **in its own
 * format** (its alias keeps its extension, so `hero.png` stays a PNG): JPEG with mozjpeg, PNG losslessly first and
 * palette-quantised (256 colours, dithered, alpha kept) only when that is still too big, WebP and GIF (animation kept)
 * at quality 82 (for PNG: zlib level 6, then libimagequant at effort 1; see `encode`). Transparency is kept wherever the format has it. What is still over 1 MB is shrunk by a step of 1/√2
 * until it fits; below 256 px it is refused (`TOO_LARGE`). Re-encoding drops the EXIF data (the phone's location)
 * after applying its rotation.
 */
import sharp, { type Sharp } from 'sharp';
import { createError, IMAGE_SIZE_MAX } from '@dreamcore/runtime-core';

/** What a picture may weigh on the way in (the upload limit for pictures). */
export const MAX_IMAGE_UPLOAD_BYTES = 12 * 1024 * 1024;
/** What a stored picture may weigh (V2's asset limit). */
export const MAX_STORED_IMAGE_BYTES = 1024 * 1024;
/** The longest side of a stored picture: the largest image the app generates (runtime-core's IMAGE_SIZE_MAX). */
export const MAX_IMAGE_SIDE = IMAGE_SIZE_MAX;
/** 48-megapixel phone photos decode; a decompression bomb does not. */
const MAX_INPUT_PIXELS = 50_000_000;
const SMALLEST_SIDE = 256;
const QUALITY = 82;

/** Extensions of the pictures sharp re-encodes (SVG is text and sanitised elsewhere). */
const RASTER = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif']);
export const isRasterImage = (ext: string) => RASTER.has(ext);

export interface FittedImage {
  bytes: Uint8Array;
  width: number;
  height: number;
  /** False when the upload was stored as it came. */
  changed: boolean;
}

function encode(image: Sharp, ext: string, palette: boolean): Sharp {
  switch (ext) {
    case '.jpg':
    case '.jpeg':
      return image.jpeg({ quality: QUALITY, mozjpeg: true });
    case '.png':
      // Speed matters here (the user waits): zlib's level 9 with adaptive filtering took 16× as long as level 6 on a
      // 2048 px picture for a third less, and the quantiser's effort 1 is within 15 % of its effort 10 at a sixth of the time.
      return palette ? image.png({ palette: true, effort: 1, dither: 1 }) : image.png({ compressionLevel: 6 });
    case '.webp':
      return image.webp({ quality: QUALITY, alphaQuality: 90 });
    default:
      return image.gif();
  }
}

const invalid = () => createError('INVALID_ARGUMENT', 'The picture could not be read');

/**
 * The bytes to store for an uploaded picture of type `ext` (checked already to be that type by its magic number).
 * `INVALID_ARGUMENT` when sharp cannot read it, `TOO_LARGE` when it cannot be made to fit.
 */
export async function fitAssetImage(input: Uint8Array, ext: string): Promise<FittedImage> {
  const animated = ext === '.gif' || ext === '.webp';
  const open = () => sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, animated });
  let meta: sharp.Metadata;
  try {
    meta = await open().metadata();
  } catch {
    throw invalid();
  }
  const width = meta.width ?? 0;
  // An animation's frames are stacked: its height is one frame's.
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width === 0 || height === 0) throw invalid();
  const rotated = (meta.orientation ?? 1) >= 5; // EXIF 5–8 swap width and height
  if (input.byteLength <= MAX_STORED_IMAGE_BYTES && Math.max(width, height) <= MAX_IMAGE_SIDE) {
    return { bytes: input, width: rotated ? height : width, height: rotated ? width : height, changed: false };
  }
  let side = Math.min(MAX_IMAGE_SIDE, Math.max(width, height));
  for (;;) {
    for (const palette of ext === '.png' ? [false, true] : [false]) {
      let out: { data: Buffer; info: sharp.OutputInfo };
      try {
        out = await encode(open().rotate().resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true }), ext, palette).toBuffer({
          resolveWithObject: true,
        });
      } catch {
        throw invalid();
      }
      if (out.data.byteLength <= MAX_STORED_IMAGE_BYTES) {
        const frameHeight = out.info.pageHeight ?? out.info.height;
        return { bytes: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength), width: out.info.width, height: frameHeight, changed: true };
      }
    }
    side = Math.floor(side / Math.SQRT2);
    if (side < SMALLEST_SIDE) {
      throw createError('TOO_LARGE', 'The picture is too detailed to fit in 1 MB', { details: { limit: MAX_STORED_IMAGE_BYTES } });
    }
  }
}

/** Profile pictures: a square WebP of 256 px (cropped to the middle), whatever came in (≤ 2 MB, V2's limit). */
export const MAX_AVATAR_UPLOAD_BYTES = 2 * 1024 * 1024;
export const AVATAR_SIDE = 256;

export async function avatarWebp(input: Uint8Array): Promise<Uint8Array> {
  try {
    const data = await sharp(input, { limitInputPixels: 4096 * 4096 })
      .rotate()
      .resize({ width: AVATAR_SIDE, height: AVATAR_SIDE, fit: 'cover', position: 'attention' })
      .webp({ quality: QUALITY, alphaQuality: 90 })
      .toBuffer();
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch {
    throw invalid();
  }
}
