/**
 * A fake Gemini endpoint that the real `@google/genai` SDK talks to (`httpOptions.baseUrl`), so image generation is
 * tested through the real client and its real HTTP, never through a mocked function.
 *
 * It answers `POST /{version}/models/{model}:generateContent` the way the Gemini Developer API does for image models:
 * a candidate whose parts carry `inlineData` PNG bytes. The picture is deterministic for a prompt: a round, opaque,
 * outlined shape in a colour from a hash of the prompt, drawn with anti-aliased edges on a slightly noisy magenta
 * backdrop when the prompt asks for magenta (as real models draw it: close to #FF00FF, not exactly), or on a light
 * backdrop otherwise. So a keyer has to cope with what it would meet for real: soft edges and an imperfect key colour.
 *
 * Faults are injected by markers in the prompt text, so a backend-agnostic suite can trigger them:
 *   [fault:safety]       200, prompt blocked: `promptFeedback.blockReason = SAFETY`, no candidates
 *   [fault:image-safety] 200, a candidate with `finishReason = IMAGE_SAFETY` and no content
 *   [fault:429]          429 RESOURCE_EXHAUSTED (with a RetryInfo detail)
 *   [fault:500]          500 INTERNAL
 *   [fault:503]          503 UNAVAILABLE (model overloaded)
 *   [fault:malformed]    200, a candidate with only a text part (no image)
 *   [fault:garbage]      200, an `image/png` part whose bytes are not an image
 *   [fault:not-json]     200 with a body that is not JSON
 *   [fault:drop]         the connection is destroyed before any response
 *   [fault:hang]         no response until the client goes away (for cancel and timeout cases)
 */
import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readRequestBody } from '../request-body.js';

export const GEMINI_FAULTS = ['safety', 'image-safety', '429', '500', '503', 'malformed', 'garbage', 'not-json', 'drop', 'hang'] as const;
export type GeminiFault = (typeof GEMINI_FAULTS)[number];

/** The marker that makes the fake answer with `fault`: put it anywhere in the prompt. */
export function faultMarker(fault: GeminiFault): string {
  return `[fault:${fault}]`;
}

export interface FakeGeminiOptions {
  /** When set, requests with another (or no) `x-goog-api-key` get Gemini's 400 API_KEY_INVALID. */
  apiKey?: string;
  /** Long side of generated images in pixels (default 1024, what Gemini 2.5 Flash Image returns for 1:1). */
  imageSize?: number;
}

export interface FakeGeminiRequest {
  method: string;
  /** Path and query as received. */
  path: string;
  /** `gemini-2.5-flash-image` for `/v1beta/models/gemini-2.5-flash-image:generateContent`, else null. */
  model: string | null;
  /** Lower-cased header names, as Node gives them. */
  headers: IncomingHttpHeaders;
  /** The `x-goog-api-key` header, or null. */
  apiKey: string | null;
  /** Parsed JSON body, or the raw text when it was not JSON. */
  body: unknown;
  /** All text parts of the request's contents, joined by newlines. */
  prompt: string;
  fault: GeminiFault | null;
}

export interface FakeGemini {
  /** Base URL for `httpOptions.baseUrl` (no trailing slash, no API version). */
  readonly url: string;
  /** Every request received, in arrival order. */
  readonly requests: FakeGeminiRequest[];
  close(): Promise<void>;
}

/**
 * generateContent takes at most 20 MB per request (inline images included); Google's front end answers a longer one
 * 400 INVALID_ARGUMENT "Request payload size exceeds the limit", and so does the fake.
 */
const MAX_REQUEST_BYTES = 20 * 1024 * 1024;

// Pixel sizes Gemini image models return per aspect ratio at the 1024 tier.
const SIZES: Record<string, [number, number]> = {
  '1:1': [1024, 1024],
  '2:3': [832, 1248],
  '3:2': [1248, 832],
  '3:4': [864, 1184],
  '4:3': [1184, 864],
  '4:5': [896, 1152],
  '5:4': [1152, 896],
  '9:16': [768, 1344],
  '16:9': [1344, 768],
  '21:9': [1536, 672],
};

// Subject colours: all far from magenta (min(r, b) never exceeds g by much), so any magenta left is the keyer's fault.
const PALETTE = ['#2e86de', '#10ac84', '#f39c12', '#e74c3c', '#16a085', '#f1c40f', '#27ae60', '#34495e', '#8e6e53', '#00a8c6', '#6ab04c', '#eb4d4b'];
const OPAQUE_BACKDROPS = ['#cfe8ff', '#e8f6d0', '#fff1c9', '#e6e6e6'];
// Not exactly #FF00FF, like a real model's "magenta".
const MAGENTA = { r: 252, g: 4, b: 250 };

function googleError(res: ServerResponse, code: number, status: string, message: string, details?: unknown[]): void {
  const body = JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } });
  res.writeHead(code, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(body);
}

function sendJson(res: ServerResponse, value: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(value));
}

function textOf(body: unknown): string {
  const contents = (body as { contents?: unknown })?.contents;
  const list = Array.isArray(contents) ? contents : [];
  const texts: string[] = [];
  for (const content of list) {
    const parts = (content as { parts?: unknown })?.parts;
    for (const part of Array.isArray(parts) ? parts : []) {
      const text = (part as { text?: unknown })?.text;
      if (typeof text === 'string') texts.push(text);
    }
  }
  return texts.join('\n');
}

function faultIn(prompt: string): GeminiFault | null {
  const match = /\[fault:([a-z0-9-]+)\]/.exec(prompt);
  const fault = match?.[1];
  return fault !== undefined && (GEMINI_FAULTS as readonly string[]).includes(fault) ? (fault as GeminiFault) : null;
}

function usage(prompt: string, imageTokens: number) {
  const promptTokenCount = Math.max(1, Math.ceil(prompt.length / 4));
  return {
    promptTokenCount,
    candidatesTokenCount: imageTokens,
    totalTokenCount: promptTokenCount + imageTokens,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokenCount }],
    ...(imageTokens > 0 ? { candidatesTokensDetails: [{ modality: 'IMAGE', tokenCount: imageTokens }] } : {}),
  };
}

/** Deterministic PNG for a prompt: see the file comment. */
export async function renderFakeImage(prompt: string, width: number, height: number): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  const hash = createHash('sha256').update(prompt).digest();
  const byte = (i: number) => hash[i % hash.length] ?? 0;
  const magenta = /magenta|#ff00ff/i.test(prompt);
  const fill = PALETTE[byte(0) % PALETTE.length] ?? '#2e86de';
  const backdrop = magenta ? `rgb(${MAGENTA.r},${MAGENTA.g},${MAGENTA.b})` : (OPAQUE_BACKDROPS[byte(1) % OPAQUE_BACKDROPS.length] ?? '#cfe8ff');

  // A round subject (circle, ellipse or a rounded square with large corners) covering about 60% of the short side,
  // nudged off centre, with a dark outline and a highlight, the way a simple game sprite looks.
  const short = Math.min(width, height);
  const cx = width / 2 + ((byte(2) % 21) - 10) * short * 0.004;
  const cy = height / 2 + ((byte(3) % 21) - 10) * short * 0.004;
  const r = short * (0.27 + (byte(4) % 8) * 0.005);
  const stroke = Math.max(2, short * 0.018);
  const kind = byte(5) % 3;
  const shape =
    kind === 0
      ? `<circle cx="${cx}" cy="${cy}" r="${r}"`
      : kind === 1
        ? `<ellipse cx="${cx}" cy="${cy}" rx="${r * 1.25}" ry="${r * 0.85}"`
        : `<rect x="${cx - r}" y="${cy - r}" width="${2 * r}" height="${2 * r}" rx="${r * 0.6}" ry="${r * 0.6}"`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="${backdrop}"/>` +
    `${shape} fill="${fill}" stroke="#1b1b1b" stroke-width="${stroke}"/>` +
    `<ellipse cx="${cx - r * 0.3}" cy="${cy - r * 0.35}" rx="${r * 0.28}" ry="${r * 0.16}" fill="#ffffff" fill-opacity="0.55"/>` +
    `</svg>`;

  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  // Small deterministic noise everywhere (xorshift seeded by the prompt): the backdrop is near magenta, never exact.
  let x = hash.readUInt32LE(8) || 1;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const v = (data[i] ?? 0) + ((x >>> 0) % 7) - 3;
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  // Noise does not compress anyway; the fastest setting keeps suites quick.
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

export async function startFakeGemini(options: FakeGeminiOptions = {}): Promise<FakeGemini> {
  const requests: FakeGeminiRequest[] = [];
  const imageScale = (options.imageSize ?? 1024) / 1024;
  // Renders are deterministic, so a repeated prompt can reuse its PNG (suites ask for the same sprite often).
  const rendered = new Map<string, Promise<Buffer>>();
  const render = (prompt: string, width: number, height: number) => {
    const key = `${width}x${height}:${prompt}`;
    let png = rendered.get(key);
    if (!png) {
      png = renderFakeImage(prompt, width, height);
      png.catch(() => rendered.delete(key));
      if (rendered.size >= 32) rendered.delete(rendered.keys().next().value as string);
      rendered.set(key, png);
    }
    return png;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const bytes = await readRequestBody(req, MAX_REQUEST_BYTES);
    const raw = bytes?.toString('utf8') ?? '';
    const url = req.url ?? '/';
    const match = /^\/v1(?:alpha|beta)?\/models\/([^/:?]+):generateContent(?:\?.*)?$/.exec(url);
    let body: unknown = raw;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      // kept as text; answered below
    }
    const prompt = textOf(body);
    const fault = faultIn(prompt);
    const header = req.headers['x-goog-api-key'];
    const apiKey = typeof header === 'string' ? header : null;
    const model = match?.[1] ?? null;
    requests.push({ method: req.method ?? '', path: url, model, headers: req.headers, apiKey, body, prompt, fault });

    if (bytes === null) return googleError(res, 400, 'INVALID_ARGUMENT', `Request payload size exceeds the limit: ${MAX_REQUEST_BYTES} bytes.`);
    if (!match) return googleError(res, 404, 'NOT_FOUND', `Method not found: ${url}`);
    if (req.method !== 'POST') return googleError(res, 405, 'METHOD_NOT_ALLOWED', 'Use POST');
    if (options.apiKey !== undefined && apiKey !== options.apiKey) {
      return googleError(res, 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' },
      ]);
    }
    if (typeof body !== 'object' || body === null || prompt === '') {
      return googleError(res, 400, 'INVALID_ARGUMENT', 'contents must hold at least one text part');
    }
    const modelVersion = model ?? '';
    const responseId = createHash('sha256').update(`${requests.length}:${prompt}`).digest('base64url').slice(0, 22);

    switch (fault) {
      case 'safety':
        return sendJson(res, {
          promptFeedback: {
            blockReason: 'SAFETY',
            safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }],
          },
          usageMetadata: usage(prompt, 0),
          modelVersion,
          responseId,
        });
      case 'image-safety':
        return sendJson(res, {
          candidates: [{ finishReason: 'IMAGE_SAFETY', index: 0 }],
          usageMetadata: usage(prompt, 0),
          modelVersion,
          responseId,
        });
      case '429':
        return googleError(res, 429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan and billing details.', [
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '17s' },
        ]);
      case '500':
        return googleError(res, 500, 'INTERNAL', 'An internal error has occurred. Please retry or report the problem.');
      case '503':
        return googleError(res, 503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.');
      case 'malformed':
        return sendJson(res, {
          candidates: [
            {
              content: { role: 'model', parts: [{ text: 'I drew the sprite you asked for.' }] },
              finishReason: 'STOP',
              index: 0,
            },
          ],
          usageMetadata: usage(prompt, 0),
          modelVersion,
          responseId,
        });
      case 'garbage':
        return sendJson(res, {
          candidates: [
            {
              content: {
                role: 'model',
                parts: [{ inlineData: { mimeType: 'image/png', data: Buffer.from('not a png').toString('base64') } }],
              },
              finishReason: 'STOP',
              index: 0,
            },
          ],
          usageMetadata: usage(prompt, 1290),
          modelVersion,
          responseId,
        });
      case 'not-json':
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
        res.end('{"candidates": [ this is not json');
        return;
      case 'drop':
        req.socket.destroy();
        return;
      case 'hang':
        // Left open: the client's abort (or close()) ends it.
        return;
      default:
        break;
    }

    type GenerationConfig = { responseModalities?: unknown; imageConfig?: { aspectRatio?: unknown } };
    const config = (body as { generationConfig?: GenerationConfig }).generationConfig;
    const ratio = typeof config?.imageConfig?.aspectRatio === 'string' ? config.imageConfig.aspectRatio : '1:1';
    const size = SIZES[ratio];
    if (!size) return googleError(res, 400, 'INVALID_ARGUMENT', `Unsupported aspect ratio: ${ratio}`);
    const png = await render(prompt, Math.round(size[0] * imageScale), Math.round(size[1] * imageScale));
    // Without responseModalities, an image model answers with text and image.
    const modalities = Array.isArray(config?.responseModalities) ? (config.responseModalities as unknown[]) : ['TEXT', 'IMAGE'];
    // Like the real model, a text part comes first only when text output was allowed.
    const parts: unknown[] = modalities.includes('TEXT') ? [{ text: 'Here is your image.' }] : [];
    parts.push({ inlineData: { mimeType: 'image/png', data: png.toString('base64') } });
    sendJson(res, {
      candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
      usageMetadata: usage(prompt, 1290),
      modelVersion,
      responseId,
    });
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) googleError(res, 500, 'INTERNAL', `fake gemini failed: ${String(error)}`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        // Keep-alive sockets from the SDK's fetch and hanging requests would otherwise hold close() open.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
