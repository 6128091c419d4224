import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBackendError, type FileEntry, type FilesCapability } from '@dreamcore/runtime-core';
import { expectCode } from '@dreamcore/runtime-core/conformance';
import {
  aliasBaseFromPrompt,
  aliasesInUse,
  buildImagePrompt,
  closestAspectRatio,
  normalizeImageRequest,
  parseStoredAssetName,
  pickAlias,
  sanitizeAliasBase,
  splitExtension,
  SPRITE_BACKGROUND_INSTRUCTION,
  storedAssetName,
  STYLE_HINTS,
} from '@dreamcore/runtime-core';
import { startFakeGemini, type FakeGemini } from '@dreamcore/runtime-core/testkit';
import { createImageGenerator, processImage, type GenerateImage } from '../src/image.js';

const KEY = 'test-gemini-key-0123456789';
let fake: FakeGemini;

/** The two calls the generator makes on a backend's files, over a map (the backends' own files are the conformance suite's). */
function assetStore(): Pick<FilesCapability, 'list' | 'write'> & { stored: Map<string, Uint8Array> } {
  const stored = new Map<string, Uint8Array>();
  const entry = (name: string): FileEntry => ({ path: name, kind: 'file', size: stored.get(name)!.byteLength, mtime: new Date(0).toISOString() });
  return {
    stored,
    list: async () => [...stored.keys()].map(entry),
    write: async (_scope, name, data) => {
      stored.set(name, typeof data === 'string' ? new TextEncoder().encode(data) : data);
      return entry(name);
    },
  };
}

beforeAll(async () => {
  fake = await startFakeGemini({ apiKey: KEY });
});

afterAll(async () => {
  await fake?.close();
});

interface GeminiSettings {
  apiKey?: string;
  baseUrl?: string;
  model?: string;
  timeoutMs?: number;
}

function backendWithImages(gemini: GeminiSettings = { apiKey: KEY }): { generateImage: GenerateImage } {
  return { generateImage: createImageGenerator({ files: assetStore(), baseUrl: fake.url, ...gemini }) };
}

describe('generateImage: what reaches Gemini', () => {
  it('sends the key as x-goog-api-key, the model in the path, the prompt with style and sprite instruction', async () => {
    const backend = backendWithImages({ apiKey: KEY, model: 'gemini-test-image' });
    const before = fake.requests.length;
    await backend.generateImage({ scope: { userId: randomUUID() }, prompt: 'a brave knight', style: 'pixel', width: 64, height: 48 });
    const sent = fake.requests.slice(before);
    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/v1beta/models/gemini-test-image:generateContent');
    expect(request?.headers['x-goog-api-key']).toBe(KEY);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.body).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: expect.stringContaining('a brave knight') }] }],
      generationConfig: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '4:3' } },
    });
    expect(request?.prompt).toContain(STYLE_HINTS.pixel);
    expect(request?.prompt).toContain(SPRITE_BACKGROUND_INSTRUCTION);
  });

  it('stores the keyed PNG through the files it was given, each call under a free alias', async () => {
    const files = assetStore();
    const generateImage = createImageGenerator({ files, apiKey: KEY, baseUrl: fake.url });
    const scope = { userId: randomUUID() };
    const first = await generateImage({ scope, prompt: 'a red apple', width: 32, height: 32 });
    const second = await generateImage({ scope, prompt: 'a red apple', width: 32, height: 32 });
    expect(second.alias).not.toBe(first.alias);
    expect([...files.stored.keys()].sort()).toEqual([first.path, second.path].sort());
    const meta = await sharp(files.stored.get(first.path)!).metadata();
    expect(meta).toMatchObject({ format: 'png', hasAlpha: true });
    expect(first.size).toBe(files.stored.get(first.path)!.byteLength);
  });

  it('an opaque request does not ask for the magenta backdrop', async () => {
    const backend = backendWithImages();
    const before = fake.requests.length;
    await backend.generateImage({ scope: { userId: randomUUID() }, prompt: 'a castle', transparent: false, width: 32, height: 32 });
    expect(fake.requests[before]?.prompt).not.toMatch(/magenta/i);
  });

  it('without a key: NOT_CONFIGURED, and nothing is sent', async () => {
    const backend = backendWithImages({});
    const before = fake.requests.length;
    const error = await expectCode(backend.generateImage({ scope: { userId: randomUUID() }, prompt: 'a cat' }), 'NOT_CONFIGURED');
    expect(error.message).not.toContain(KEY);
    expect(fake.requests.length).toBe(before);
  });

  it('a key the provider rejects is AUTH_ERROR, and the message does not echo the key', async () => {
    const backend = backendWithImages({ apiKey: 'wrong-key' });
    const error = await expectCode(backend.generateImage({ scope: { userId: randomUUID() }, prompt: 'a cat' }), 'AUTH_ERROR');
    expect(isBackendError(error) && JSON.stringify(error.toJSON())).not.toContain('wrong-key');
  });

  it('a provider that never answers is TIMEOUT after timeoutMs', async () => {
    const backend = backendWithImages({ apiKey: KEY, timeoutMs: 300 });
    const started = Date.now();
    await expectCode(backend.generateImage({ scope: { userId: randomUUID() }, prompt: '[fault:hang] a cat' }), 'TIMEOUT');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('the fake refuses a request over 20 MB as Gemini does (400 INVALID_ARGUMENT), answering rather than cutting the connection', async () => {
    const res = await fetch(`${fake.url}/v1beta/models/gemini-2.5-flash-image:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': KEY },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'a cat' }, { inlineData: { mimeType: 'image/png', data: 'A'.repeat(21 * 1024 * 1024) } }] }] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 400, status: 'INVALID_ARGUMENT', message: 'Request payload size exceeds the limit: 20971520 bytes.' } });
  });

  it('a 429 carries the provider retry delay', async () => {
    const backend = backendWithImages();
    const error = await expectCode(backend.generateImage({ scope: { userId: randomUUID() }, prompt: '[fault:429] a cat' }), 'RATE_LIMIT');
    expect(isBackendError(error) && error.details.retryAfterMs).toBe(17_000);
  });
});

describe('keying', () => {
  it('removes magenta enclosed by the subject too (a ring keeps its hole)', async () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><rect width="200" height="200" fill="#ff00ff"/>' +
      '<circle cx="100" cy="100" r="70" fill="none" stroke="#2e86de" stroke-width="30"/></svg>';
    const input = await sharp(Buffer.from(svg)).removeAlpha().png().toBuffer();
    const out = await processImage(input, { width: 100, height: 100, transparent: true });
    const { data, info } = await sharp(out).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const alpha = (x: number, y: number) => data[(y * info.width + x) * 4 + 3];
    expect(alpha(50, 50)).toBe(0); // the hole
    expect(alpha(0, 0)).toBe(0);
    expect(alpha(50, 3)).toBe(255); // the ring, at the top edge after trimming
  });

  it('an image that is all backdrop is MALFORMED_RESPONSE', async () => {
    const input = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fe02fd' } })
      .png()
      .toBuffer();
    await expectCode(processImage(input, { width: 32, height: 32, transparent: true }), 'MALFORMED_RESPONSE');
  });
});

describe('asset naming (assets.ts)', () => {
  it('splits extensions like path.extname and lower-cases them', () => {
    expect(splitExtension('Hero.PNG')).toEqual({ base: 'Hero', ext: '.png' });
    expect(splitExtension('a.b.webp')).toEqual({ base: 'a.b', ext: '.webp' });
    expect(splitExtension('.hidden')).toEqual({ base: '.hidden', ext: '' });
    expect(splitExtension('noext')).toEqual({ base: 'noext', ext: '' });
  });

  it('sanitises like V2: outside [A-Za-z0-9_-] to _, cut to 32', () => {
    expect(sanitizeAliasBase('hero sprite!')).toBe('hero_sprite_');
    expect(sanitizeAliasBase('a-b_C9')).toBe('a-b_C9');
    expect(sanitizeAliasBase('🎮')).toBe('__'); // one emoji is two UTF-16 units, as in V2
    expect(sanitizeAliasBase('y'.repeat(50))).toBe('y'.repeat(32));
    expect(sanitizeAliasBase('')).toBe('asset');
  });

  it('derives a readable base from a prompt', () => {
    expect(aliasBaseFromPrompt('A cute red cat, pixel!')).toBe('a_cute_red_cat_pixel');
    expect(aliasBaseFromPrompt('かわいい猫')).toBe('image');
    expect(aliasBaseFromPrompt('[fault:429] a cat')).toBe('a_cat');
    const long = aliasBaseFromPrompt('the quick brown fox jumps over the lazy dog again and again');
    expect(long.length).toBeLessThanOrEqual(32);
    expect(long.endsWith('_')).toBe(false);
  });

  it('stores as {aliasBase}_{sha8}{ext} and parses it back', () => {
    const sha = 'ab'.repeat(32);
    expect(storedAssetName('coin_2', sha, '.png')).toBe('coin_2_abababab.png');
    expect(parseStoredAssetName('coin_2_abababab.png')).toEqual({
      alias: 'coin_2.png',
      aliasBase: 'coin_2',
      hashPrefix: 'abababab',
      ext: '.png',
    });
    // A base that itself ends like a hash keeps it: only the last _xxxxxxxx is the stored hash.
    expect(parseStoredAssetName('x_12345678_abababab.png')?.alias).toBe('x_12345678.png');
    expect(parseStoredAssetName('plain.png')).toBeNull();
    expect(() => storedAssetName('x', 'NOT-HEX', '.png')).toThrow();
  });

  it('picks the first free alias among the stored names', () => {
    expect(pickAlias('coin.png', []).alias).toBe('coin.png');
    expect(pickAlias('coin.png', ['coin_0123abcd.png'])).toEqual({ alias: 'coin_2.png', aliasBase: 'coin_2', ext: '.png' });
    expect(pickAlias('coin.png', ['coin_0123abcd.png', 'coin_2_89abcdef.png']).alias).toBe('coin_3.png');
    expect(pickAlias('coin.png', ['coin_0123abcd.png', 'coin_3_89abcdef.png']).alias).toBe('coin_2.png');
    // Case-insensitive, and a file that is not in stored form occupies its own name.
    expect(pickAlias('Coin.png', ['coin_0123abcd.png']).alias).toBe('Coin_2.png');
    expect(pickAlias('coin.png', ['coin.png']).alias).toBe('coin_2.png');
    // Another extension is another alias.
    expect(pickAlias('coin.webp', ['coin_0123abcd.png']).alias).toBe('coin.webp');
    expect(pickAlias('Hello World.PNG', []).alias).toBe('Hello_World.png');
    expect(() => pickAlias('x.p?ng', [])).toThrow(/extension/);
    expect([...aliasesInUse(['A_0123abcd.png'])].sort()).toEqual(['a.png', 'a_0123abcd.png']);
  });

  it('builds the prompt: user text, style hint, sprite instruction', () => {
    const text = buildImagePrompt({ prompt: '  a cat  ', style: 'kawaii' });
    expect(text.startsWith('a cat\n\n')).toBe(true);
    expect(text).toContain(STYLE_HINTS.kawaii);
    expect(text).toContain('#FF00FF');
    expect(buildImagePrompt({ prompt: 'a cat', transparent: false })).toBe('a cat');
  });

  it('maps sizes to the nearest Gemini aspect ratio', () => {
    expect(closestAspectRatio(512, 512)).toBe('1:1');
    expect(closestAspectRatio(1920, 1080)).toBe('16:9');
    expect(closestAspectRatio(16, 2048)).toBe('9:16');
    expect(closestAspectRatio(600, 800)).toBe('3:4');
  });

  it('normalises requests with the contract defaults', () => {
    const userId = randomUUID();
    expect(normalizeImageRequest({ scope: { userId }, prompt: ' a cat ' })).toEqual({
      scope: { userId },
      prompt: 'a cat',
      width: 512,
      height: 512,
      transparent: true,
      fileName: 'a_cat.png',
    });
    expect(normalizeImageRequest({ scope: { userId }, prompt: 'a', name: 'Gem.PNG', style: 'flat' })).toMatchObject({
      fileName: 'Gem.png',
      style: 'flat',
    });
    expect(normalizeImageRequest({ scope: { userId }, prompt: 'a', name: '.png' }).fileName).toBe('asset.png');
  });
});
