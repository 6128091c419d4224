/**
 * generateImage for any backend: Gemini through the official `@google/genai` SDK, the magenta key done with sharp,
 * the PNG stored in the user's asset space through the backend's own files capability (so the scoping rules are the
 * files rules, and the bytes land wherever that backend keeps files).
 */
import { createHash } from 'node:crypto';
import type { ApiError, GenerateContentResponse, GoogleGenAI } from '@google/genai';
import sharp from 'sharp';
import { loadGenAI } from './lazy.js';
import {
  createError,
  isBackendError,
  KeyedMutex,
  type AssetRef,
  type AssetScope,
  type BackendError,
  type FilesCapability,
  type GenerateImageRequest,
} from '@dreamcore/runtime-core';
import { buildImagePrompt, closestAspectRatio, normalizeImageRequest, pickAlias, SPRITE_KEY_COLOR, storedAssetName } from '@dreamcore/runtime-core';

export const DEFAULT_IMAGE_MODEL = 'gemini-2.5-flash-image';
export const DEFAULT_IMAGE_TIMEOUT_MS = 120_000;
/** Bigger than any image Gemini returns (1536×672 at most); refuses decompression bombs from a misbehaving provider. */
const MAX_INPUT_PIXELS = 4096 * 4096;

export interface ImageGeneratorOptions {
  /** Where the PNG goes: the user's asset space (`{ userId, assets: true }`); listed to pick a free alias. */
  files: Pick<FilesCapability, 'list' | 'write'>;
  /** Gemini API key. Without one every call fails NOT_CONFIGURED (the environment is deliberately not consulted). */
  apiKey?: string;
  /** Gemini endpoint (a stand-in in tests); default: the SDK's own. */
  baseUrl?: string;
  model?: string;
  /** Bound on the provider call, then TIMEOUT (default 120 s). */
  timeoutMs?: number;
}

export type GenerateImage = (request: GenerateImageRequest) => Promise<AssetRef>;

// ---------------------------------------------------------------- keying

/** The backdrop as drawn: the median of the border pixels when that is magenta-ish, else pure magenta. */
function estimateKeyColor(px: Uint8Array, width: number, height: number): { r: number; g: number; b: number } {
  const hist = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)] as const;
  let count = 0;
  const add = (x: number, y: number) => {
    const i = (y * width + x) * 4;
    for (let c = 0; c < 3; c++) {
      const v = px[i + c] ?? 0;
      hist[c as 0 | 1 | 2][v] = (hist[c as 0 | 1 | 2][v] ?? 0) + 1;
    }
    count++;
  };
  for (let x = 0; x < width; x++) {
    add(x, 0);
    if (height > 1) add(x, height - 1);
  }
  for (let y = 1; y < height - 1; y++) {
    add(0, y);
    if (width > 1) add(width - 1, y);
  }
  const median = (h: Uint32Array) => {
    let seen = 0;
    for (let v = 0; v < 256; v++) {
      seen += h[v] ?? 0;
      if (seen * 2 >= count) return v;
    }
    return 255;
  };
  const key = { r: median(hist[0]), g: median(hist[1]), b: median(hist[2]) };
  const magentaish = key.r > 150 && key.b > 150 && Math.min(key.r, key.b) - key.g > 110;
  return magentaish ? key : { ...SPRITE_KEY_COLOR };
}

/** Pixels whose (Chebyshev) distance to a set pixel is at most `radius`: a separable box dilation. */
function dilate(mask: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  const horizontal = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let run = 0; // set pixels inside the window [x - radius, x + radius]
    for (let x = 0; x < Math.min(radius, width); x++) run += mask[row + x] ?? 0;
    for (let x = 0; x < width; x++) {
      if (x + radius < width) run += mask[row + x + radius] ?? 0;
      if (x - radius - 1 >= 0) run -= mask[row + x - radius - 1] ?? 0;
      horizontal[row + x] = run > 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) {
    let run = 0;
    for (let y = 0; y < Math.min(radius, height); y++) run += horizontal[y * width + x] ?? 0;
    for (let y = 0; y < height; y++) {
      if (y + radius < height) run += horizontal[(y + radius) * width + x] ?? 0;
      if (y - radius - 1 >= 0) run -= horizontal[(y - radius - 1) * width + x] ?? 0;
      out[y * width + x] = run > 0 ? 1 : 0;
    }
  }
  return out;
}

const BACKGROUND_DISTANCE = 48; // RGB distance under which a pixel is backdrop (noise, compression, off-magenta)
const EDGE_RADIUS = 3; // anti-aliased edges are about this wide at the model's resolution
const SEARCH_RADIUS = EDGE_RADIUS + 2; // where an edge pixel looks for the solid colour it was blended from

/**
 * Keys the magenta backdrop out of RGBA pixels, in place. Backdrop pixels become transparent. Pixels within a few
 * pixels of the backdrop are treated as blends `P = a·F + (1 − a)·K` of a nearby solid colour F and the key K:
 * `a` becomes their alpha and the key's share is replaced by F's, so anti-aliased edges stay soft without a pink
 * fringe. Magenta enclosed by the subject (a ring's hole) goes too, since the model was told to use it only there.
 */
export function keyOutMagenta(px: Uint8Array, width: number, height: number): void {
  const n = width * height;
  const K = estimateKeyColor(px, width, height);
  const background = new Uint8Array(n);
  const limit = BACKGROUND_DISTANCE * BACKGROUND_DISTANCE;
  for (let i = 0, p = 0; i < n; i++, p += 4) {
    const dr = (px[p] ?? 0) - K.r;
    const dg = (px[p + 1] ?? 0) - K.g;
    const db = (px[p + 2] ?? 0) - K.b;
    if (dr * dr + dg * dg + db * db < limit || px[p + 3] === 0) background[i] = 1;
  }
  const near = dilate(background, width, height, EDGE_RADIUS);
  const keySpill = Math.min(K.r, K.b) - K.g;
  const out = new Uint8Array(px.length);
  out.set(px);

  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const p = i * 4;
      if (background[i]) {
        out[p] = out[p + 1] = out[p + 2] = out[p + 3] = 0;
        continue;
      }
      if (!near[i]) continue; // solid subject: untouched
      const pr = (px[p] ?? 0) - K.r;
      const pg = (px[p + 1] ?? 0) - K.g;
      const pb = (px[p + 2] ?? 0) - K.b;

      // The solid neighbour that explains this pixel best as a blend with the key (smallest residual).
      let bestResidual = Infinity;
      let alpha = 1;
      let fr = 0;
      let fg = 0;
      let fb = 0;
      for (let yy = Math.max(0, y - SEARCH_RADIUS); yy <= Math.min(height - 1, y + SEARCH_RADIUS); yy++) {
        for (let xx = Math.max(0, x - SEARCH_RADIUS); xx <= Math.min(width - 1, x + SEARCH_RADIUS); xx++) {
          const j = yy * width + xx;
          if (near[j]) continue;
          const q = j * 4;
          const vr = (px[q] ?? 0) - K.r;
          const vg = (px[q + 1] ?? 0) - K.g;
          const vb = (px[q + 2] ?? 0) - K.b;
          const vv = vr * vr + vg * vg + vb * vb;
          if (vv < 1600) continue; // a colour this close to the key cannot separate from it
          let t = (pr * vr + pg * vg + pb * vb) / vv;
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const rr = pr - t * vr;
          const rg = pg - t * vg;
          const rb = pb - t * vb;
          const residual = rr * rr + rg * rg + rb * rb;
          if (residual < bestResidual) {
            bestResidual = residual;
            alpha = t;
            fr = vr;
            fg = vg;
            fb = vb;
          }
        }
      }

      let r: number;
      let g: number;
      let b: number;
      if (bestResidual !== Infinity) {
        // P + (1 − a)(F − K): the key's share swapped for the foreground's, the residual (detail, noise) kept.
        r = (px[p] ?? 0) + (1 - alpha) * fr;
        g = (px[p + 1] ?? 0) + (1 - alpha) * fg;
        b = (px[p + 2] ?? 0) + (1 - alpha) * fb;
      } else {
        // A thin feature with no solid pixel nearby: assume its true colour carries no magenta at all.
        const spill = Math.min(px[p] ?? 0, px[p + 2] ?? 0) - (px[p + 1] ?? 0);
        alpha = spill <= 0 || keySpill <= 0 ? 1 : Math.max(0, 1 - spill / keySpill);
        const a = Math.max(alpha, 1e-3);
        r = ((px[p] ?? 0) - (1 - alpha) * K.r) / a;
        g = ((px[p + 1] ?? 0) - (1 - alpha) * K.g) / a;
        b = ((px[p + 2] ?? 0) - (1 - alpha) * K.b) / a;
        const left = Math.min(r, b) - g; // despill whatever the estimate left behind
        if (left > 0) {
          r -= left;
          b -= left;
        }
      }
      if (alpha > 0.98) alpha = 1;
      if (alpha < 0.02) alpha = 0;
      out[p] = alpha === 0 ? 0 : Math.max(0, Math.min(255, Math.round(r)));
      out[p + 1] = alpha === 0 ? 0 : Math.max(0, Math.min(255, Math.round(g)));
      out[p + 2] = alpha === 0 ? 0 : Math.max(0, Math.min(255, Math.round(b)));
      out[p + 3] = Math.round(alpha * (px[p + 3] ?? 255));
    }
  }
  px.set(out);
}

/**
 * Gives every fully transparent pixel the colour of its nearest visible pixel (breadth-first, 4-connected). Resampling
 * then never mixes in a colour that is not the subject's: no dark or magenta halo after resizing, and none when a
 * game engine filters the sprite bilinearly. Alpha is unchanged.
 */
export function bleedColors(px: Uint8Array, width: number, height: number): void {
  const n = width * height;
  const queue = new Int32Array(n);
  const seen = new Uint8Array(n);
  let tail = 0;
  for (let i = 0; i < n; i++) {
    if ((px[i * 4 + 3] ?? 0) > 0) {
      seen[i] = 1;
      queue[tail++] = i;
    }
  }
  const visit = (from: number, j: number) => {
    if (seen[j]) return;
    seen[j] = 1;
    const a = from * 4;
    const b = j * 4;
    px[b] = px[a] ?? 0;
    px[b + 1] = px[a + 1] ?? 0;
    px[b + 2] = px[a + 2] ?? 0;
    queue[tail++] = j;
  };
  for (let head = 0; head < tail; head++) {
    const i = queue[head] ?? 0;
    const x = i % width;
    if (x > 0) visit(i, i - 1);
    if (x < width - 1) visit(i, i + 1);
    if (i >= width) visit(i, i - width);
    if (i + width < n) visit(i, i + width);
  }
}

/** Bounding box of the pixels with alpha at or above `threshold`; null when there are none. */
export function alphaBounds(
  px: Uint8Array,
  width: number,
  height: number,
  threshold = 16,
): { left: number; top: number; width: number; height: number } | null {
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((px[(y * width + x) * 4 + 3] ?? 0) >= threshold) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  return maxX < 0 ? null : { left: minX, top: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/**
 * Crops `box` out of keyed RGBA pixels and fits it, centred, into `width`×`height` with transparent padding.
 * Colour and alpha are resampled separately, colour after `bleedColors`: resampling premultiplied pixels instead
 * leaves near-transparent edge pixels with whatever colour the kernel's ringing produced (magenta among them).
 */
async function fitSprite(
  px: Uint8Array,
  stride: number,
  box: { left: number; top: number; width: number; height: number },
  width: number,
  height: number,
): Promise<Buffer> {
  const crop = Buffer.alloc(box.width * box.height * 4);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.top + y) * stride + box.left) * 4;
    crop.set(px.subarray(from, from + box.width * 4), y * box.width * 4);
  }
  bleedColors(crop, box.width, box.height);
  const rgb = Buffer.alloc(box.width * box.height * 3);
  const alpha = Buffer.alloc(box.width * box.height);
  for (let i = 0, n = box.width * box.height; i < n; i++) {
    rgb[i * 3] = crop[i * 4] ?? 0;
    rgb[i * 3 + 1] = crop[i * 4 + 1] ?? 0;
    rgb[i * 3 + 2] = crop[i * 4 + 2] ?? 0;
    alpha[i] = crop[i * 4 + 3] ?? 0;
  }
  const scale = Math.min(width / box.width, height / box.height);
  const w = Math.min(width, Math.max(1, Math.round(box.width * scale)));
  const h = Math.min(height, Math.max(1, Math.round(box.height * scale)));
  const resized = await Promise.all([
    sharp(rgb, { raw: { width: box.width, height: box.height, channels: 3 } })
      .resize(w, h, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true }),
    // sharp widens one band to sRGB on the way; band 0 is an exact copy of the mask.
    sharp(alpha, { raw: { width: box.width, height: box.height, channels: 1 } })
      .resize(w, h, { fit: 'fill' })
      .extractChannel(0)
      .raw()
      .toBuffer({ resolveWithObject: true }),
  ]);
  const [colour, mask] = resized;
  if (colour.info.channels !== 3 || mask.info.channels !== 1) throw new Error('unexpected channel count after resizing');

  // Centre it; the padding is transparent and carries the nearest edge colour, as the bleed did.
  const left = (width - w) >> 1;
  const top = (height - h) >> 1;
  const out = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(h - 1, Math.max(0, y - top));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(w - 1, Math.max(0, x - left));
      const from = sy * w + sx;
      const to = (y * width + x) * 4;
      out[to] = colour.data[from * 3] ?? 0;
      out[to + 1] = colour.data[from * 3 + 1] ?? 0;
      out[to + 2] = colour.data[from * 3 + 2] ?? 0;
      const inside = x >= left && x < left + w && y >= top && y < top + h;
      out[to + 3] = inside ? (mask.data[from] ?? 0) : 0;
    }
  }
  return sharp(out, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
}

function malformed(message: string, cause?: unknown, details: Record<string, unknown> = {}): BackendError {
  return createError('MALFORMED_RESPONSE', message, { details, ...(cause === undefined ? {} : { cause }) });
}

/** Provider bytes → the final PNG: keyed, trimmed and fitted (transparent), or cropped to fill (opaque). */
export async function processImage(
  input: Uint8Array,
  { width, height, transparent }: { width: number; height: number; transparent: boolean },
): Promise<Buffer> {
  try {
    if (!transparent) {
      return await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS })
        .resize(width, height, { fit: 'cover' })
        .flatten({ background: '#ffffff' })
        .png()
        .toBuffer();
    }
    const { data, info } = await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS })
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw malformed(`unexpected decoded channel count ${info.channels}`);
    keyOutMagenta(data, info.width, info.height);
    const box = alphaBounds(data, info.width, info.height);
    if (!box) throw malformed('the image has nothing left once its background is removed');
    return await fitSprite(data, info.width, box, width, height);
  } catch (error) {
    if (isBackendError(error)) throw error;
    throw malformed('the image from the provider could not be decoded', error);
  }
}

// ---------------------------------------------------------------- provider responses and errors

// Finish reasons that mean the provider refused on content grounds (retrying the same prompt will not help).
const POLICY_FINISH = new Set([
  'SAFETY',
  'IMAGE_SAFETY',
  'PROHIBITED_CONTENT',
  'IMAGE_PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'RECITATION',
  'IMAGE_RECITATION',
]);

function imageFromResponse(response: GenerateContentResponse): Uint8Array {
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason) {
    throw createError('SAFETY_BLOCKED', `the image provider blocked the prompt (${blockReason})`, {
      details: { reason: blockReason, stage: 'prompt' },
    });
  }
  const candidates = response.candidates ?? [];
  const texts: string[] = [];
  for (const candidate of candidates) {
    for (const part of candidate.content?.parts ?? []) {
      const inline = part.inlineData;
      if (inline?.data && (inline.mimeType ?? 'image/').startsWith('image/')) return Buffer.from(inline.data, 'base64');
      if (typeof part.text === 'string') texts.push(part.text);
    }
  }
  const finishReason = candidates[0]?.finishReason;
  if (finishReason && POLICY_FINISH.has(finishReason)) {
    throw createError('SAFETY_BLOCKED', `the image provider refused to draw this (${finishReason})`, {
      details: { reason: finishReason, stage: 'output' },
    });
  }
  throw malformed('the image provider answered without an image', undefined, {
    finishReason: finishReason ?? null,
    candidates: candidates.length,
    text: texts.join(' ').slice(0, 200),
  });
}

interface GoogleErrorBody {
  error?: { code?: number; status?: string; message?: string; details?: { '@type'?: string; reason?: string; retryDelay?: string }[] };
}

function parseApiError(error: ApiError): GoogleErrorBody['error'] {
  try {
    return (JSON.parse(error.message) as GoogleErrorBody).error ?? {};
  } catch {
    return { message: error.message };
  }
}

/** Maps whatever the SDK threw to the contract's errors. Messages carry the provider's text, never the key. */
function providerError(
  error: unknown,
  context: { signal: AbortSignal | undefined; timeout: AbortSignal; timeoutMs: number; model: string; sdk: typeof import('@google/genai') },
): BackendError {
  if (isBackendError(error)) return error;
  const cause = { cause: error };
  if (context.signal?.aborted) return createError('CANCELLED', 'image generation was cancelled', cause);
  if (context.timeout.aborted) {
    return createError('TIMEOUT', `the image provider did not answer within ${context.timeoutMs} ms`, {
      ...cause,
      details: { timeoutMs: context.timeoutMs },
    });
  }
  if (error instanceof context.sdk.ApiError || (error as { name?: unknown })?.name === 'ApiError') {
    const status = (error as ApiError).status;
    const body = parseApiError(error as ApiError) ?? {};
    const reason = body.details?.find((d) => d.reason)?.reason;
    const retryDelay = body.details?.find((d) => d.retryDelay)?.retryDelay;
    const details: Record<string, unknown> = {
      httpStatus: status,
      providerStatus: body.status ?? null,
      model: context.model,
      ...(reason ? { reason } : {}),
    };
    const message = `image provider: ${body.message ?? `HTTP ${status}`}`;
    if (status === 429 || body.status === 'RESOURCE_EXHAUSTED') {
      const seconds = retryDelay ? Number.parseFloat(retryDelay) : NaN;
      if (Number.isFinite(seconds)) details.retryAfterMs = Math.round(seconds * 1000);
      return createError('RATE_LIMIT', message, { ...cause, details });
    }
    // Gemini answers a bad key with 400 + API_KEY_INVALID; 401/403 are the same problem from a proxy.
    if (status === 401 || status === 403 || reason === 'API_KEY_INVALID') {
      return createError('AUTH_ERROR', 'the image provider rejected the API key', { ...cause, details });
    }
    if (status === 400) return createError('INVALID_ARGUMENT', message, { ...cause, details });
    if (status === 408 || status === 504) return createError('TIMEOUT', message, { ...cause, details });
    return createError('UNAVAILABLE', message, { ...cause, details });
  }
  // A 200 whose body is not JSON.
  if (error instanceof SyntaxError) return malformed('the image provider sent a response that is not JSON', error);
  return createError('UNAVAILABLE', `the image provider could not be reached: ${(error as Error)?.message ?? String(error)}`, {
    ...cause,
    details: { model: context.model },
  });
}

// ---------------------------------------------------------------- the capability

async function assetNames(files: ImageGeneratorOptions['files'], scope: AssetScope): Promise<string[]> {
  try {
    return (await files.list(scope, '', { recursive: false })).map((entry) => entry.path);
  } catch (error) {
    if (isBackendError(error, 'NOT_FOUND')) return []; // no asset yet: the space is created by the first write
    throw error;
  }
}

function cancelled(): BackendError {
  return createError('CANCELLED', 'image generation was cancelled');
}

export function createImageGenerator(options: ImageGeneratorOptions): GenerateImage {
  const { files, apiKey, baseUrl } = options;
  const model = options.model ?? DEFAULT_IMAGE_MODEL;
  const timeoutMs = options.timeoutMs ?? DEFAULT_IMAGE_TIMEOUT_MS;
  // Listing the asset space and writing the new file is one step per user, so concurrent calls pick distinct aliases.
  const naming = new KeyedMutex();
  let client: GoogleGenAI | undefined;
  const gemini = (sdk: typeof import('@google/genai')) =>
    (client ??= new sdk.GoogleGenAI({
      apiKey: apiKey as string,
      // The Gemini Developer API whatever GOOGLE_GENAI_USE_VERTEXAI says: the key and endpoint are for it.
      vertexai: false,
      // No SDK retries: a 429 wants a wait of many seconds that the job layer, not this call, should decide on.
      ...(baseUrl ? { httpOptions: { baseUrl } } : {}),
    }));

  return async function generateImage(request: GenerateImageRequest): Promise<AssetRef> {
    const req = normalizeImageRequest(request);
    if (!apiKey) {
      throw createError('NOT_CONFIGURED', 'image generation needs a Gemini API key, and none is configured', {
        details: { capability: 'generateImage' },
      });
    }
    const userSignal = request.signal;
    if (userSignal?.aborted) throw cancelled();
    // Loaded before the provider's time starts: the first call of a process pays the SDK's import, not Gemini.
    const sdk = await loadGenAI();

    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = userSignal ? AbortSignal.any([userSignal, timeout]) : timeout;
    let response: GenerateContentResponse;
    try {
      response = await gemini(sdk).models.generateContent({
        model,
        contents: buildImagePrompt(req),
        config: {
          responseModalities: [sdk.Modality.IMAGE],
          imageConfig: { aspectRatio: closestAspectRatio(req.width, req.height) },
          abortSignal: signal,
        },
      });
    } catch (error) {
      throw providerError(error, { signal: userSignal, timeout, timeoutMs, model, sdk });
    }
    const png = await processImage(imageFromResponse(response), req);
    const scope: AssetScope = { userId: req.scope.userId, assets: true };

    return naming.run(req.scope.userId, async () => {
      // Last point of no return: after this the file exists and the call reports success.
      if (userSignal?.aborted) throw cancelled();
      const { alias, aliasBase, ext } = pickAlias(req.fileName, await assetNames(files, scope));
      const sha256 = createHash('sha256').update(png).digest('hex');
      const path = storedAssetName(aliasBase, sha256, ext);
      const entry = await files.write(scope, path, png);
      return { path, alias, mimeType: 'image/png', size: entry.size, width: req.width, height: req.height, sha256 };
    });
  };
}
