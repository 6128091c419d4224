/**
 * generateImage: a prompt becomes a PNG in the user's asset space, named by the alias rules of DreamCore's asset uploads (docs/protocol.md, "Assets and images").
 * Pixels are checked, not just metadata: a transparent sprite must have its backdrop keyed out with soft edges and
 * no magenta fringe.
 *
 * The block starts a fake Gemini (testkit) and hands its URL and key to the factory (`geminiBaseUrl`,
 * `geminiApiKey`). Provider faults are triggered by `[fault:…]` markers in the prompt, which only that fake
 * understands, so the cases that need them run only when the harness says the backend uses it (`fakeProviders`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { expectCode, sha256, snapshot, type ConformanceOptions, useBackend } from './context.js';
import { startFakeGemini, type FakeGemini } from '../testkit/fake-gemini.js';
import type { AssetRef, AssetScope, GenerateImageRequest } from '../contract.js';
import type { ErrorCode } from '../errors.js';

interface Decoded {
  data: Buffer;
  width: number;
  height: number;
  format: string | undefined;
}

async function decode(bytes: Uint8Array): Promise<Decoded> {
  // sharp is loaded only when these cases run, so the suite itself does not require it.
  const { default: sharp } = await import('sharp');
  const { format } = await sharp(bytes).metadata();
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, format };
}

function pixel(img: Decoded, x: number, y: number): [number, number, number, number] {
  const i = (y * img.width + x) * 4;
  return [img.data[i] ?? 0, img.data[i + 1] ?? 0, img.data[i + 2] ?? 0, img.data[i + 3] ?? 0];
}

/** How much a colour leans to magenta: red and blue both above green. Subjects are drawn without it. */
function magentaSpill(r: number, g: number, b: number): number {
  return Math.min(r, b) - g;
}

const assetScope = (userId: string): AssetScope => ({ userId, assets: true });

export function imageCases(options: ConformanceOptions): void {
  describe('generateImage', () => {
    let gemini: FakeGemini;
    const apiKey = `conformance-gemini-${randomBytes(12).toString('hex')}`;
    beforeAll(async () => {
      gemini = await startFakeGemini({ apiKey });
    });
    afterAll(async () => {
      await gemini?.close();
    });
    const s = useBackend(options, () => ({ geminiBaseUrl: gemini.url, geminiApiKey: apiKey }));
    const b = () => s.backend();
    const fakeProviders = Boolean(options.harness?.fakeProviders);

    /** Checks the stored file against the reference: it exists where `path` says, with that size and hash. */
    async function expectStored(userId: string, ref: AssetRef): Promise<Decoded> {
      expect(ref.mimeType).toBe('image/png');
      expect(ref.alias).toMatch(/^[A-Za-z0-9_-]+\.png$/);
      expect(ref.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(ref.path).toBe(`${ref.alias.slice(0, -'.png'.length)}_${ref.sha256.slice(0, 8)}.png`);
      const bytes = await b().files.read(assetScope(userId), ref.path);
      expect(bytes.byteLength).toBe(ref.size);
      expect(sha256(bytes)).toBe(ref.sha256);
      const img = await decode(bytes);
      expect(img.format).toBe('png');
      expect([img.width, img.height]).toEqual([ref.width, ref.height]);
      return img;
    }

    s.testUnsupported('generateImage', async () => {
      await expectCode(b().generateImage({ scope: { userId: randomUUID() }, prompt: 'a cat' }), 'UNSUPPORTED');
    });

    s.test('a transparent sprite: backdrop keyed out, soft edges, no magenta fringe, requested size', 'generateImage', async () => {
      const userId = randomUUID();
      const ref = await b().generateImage({
        scope: { userId },
        prompt: 'a round green slime monster, front view',
        name: 'slime',
        width: 256,
        height: 192,
      });
      expect(ref).toMatchObject({ alias: 'slime.png', width: 256, height: 192 });
      const img = await expectStored(userId, ref);
      expect((await b().files.list(assetScope(userId))).map((e) => e.path)).toEqual([ref.path]);

      for (const [x, y] of [
        [0, 0],
        [img.width - 1, 0],
        [0, img.height - 1],
        [img.width - 1, img.height - 1],
      ] as const) {
        expect(pixel(img, x, y)[3], `corner (${x}, ${y}) must be fully transparent`).toBe(0);
      }
      expect(pixel(img, img.width >> 1, img.height >> 1)[3], 'the centre is the subject').toBe(255);

      let opaque = 0;
      let partial = 0;
      const fringe: string[] = [];
      for (let y = 0; y < img.height; y++) {
        for (let x = 0; x < img.width; x++) {
          const [r, g, bl, a] = pixel(img, x, y);
          if (a === 255) opaque++;
          else if (a > 0) partial++;
          if (a > 0 && magentaSpill(r, g, bl) > 80 && fringe.length < 5) fringe.push(`(${x},${y})=rgba(${r},${g},${bl},${a})`);
        }
      }
      expect(fringe, 'visible pixels must not be magenta (an unkeyed or pink edge)').toEqual([]);
      expect(opaque / (img.width * img.height), 'the subject fills a good part of the trimmed image').toBeGreaterThan(0.2);
      expect(partial, 'edges keep partial alpha (anti-aliasing), not a hard cut-out').toBeGreaterThan(0);
    });

    s.test('defaults: 512×512, transparent, alias derived from the prompt', 'generateImage', async () => {
      const userId = randomUUID();
      const ref = await b().generateImage({ scope: { userId }, prompt: 'A golden coin, spinning!' });
      expect([ref.width, ref.height]).toEqual([512, 512]);
      const img = await expectStored(userId, ref);
      expect(pixel(img, 0, 0)[3]).toBe(0);
      expect(ref.alias.length).toBeLessThanOrEqual(32 + '.png'.length);
    });

    s.test('every style is accepted', 'generateImage', async () => {
      const userId = randomUUID();
      const styles = ['pixel', 'anime', 'kawaii', 'realistic', 'watercolor', 'flat'] as const;
      for (const style of styles) {
        const ref = await b().generateImage({ scope: { userId }, prompt: 'a small red heart', style, width: 48, height: 48 });
        await expectStored(userId, ref);
      }
      expect((await b().files.list(assetScope(userId))).length).toBe(styles.length);
    });

    s.test('transparent: false keeps an opaque background at the requested size', 'generateImage', async () => {
      const userId = randomUUID();
      const ref = await b().generateImage({
        scope: { userId },
        prompt: 'a meadow with one tree at noon',
        transparent: false,
        width: 160,
        height: 90,
        name: 'meadow',
      });
      const img = await expectStored(userId, ref);
      for (let i = 3; i < img.data.length; i += 4) {
        if (img.data[i] !== 255) throw new Error(`pixel ${(i - 3) / 4} has alpha ${img.data[i]}; expected an opaque image`);
      }
    });

    s.test('size bounds: 16 and 2048 are accepted', 'generateImage', async () => {
      const userId = randomUUID();
      const ref = await b().generateImage({ scope: { userId }, prompt: 'a tall thin tower', width: 16, height: 2048 });
      await expectStored(userId, ref);
      expect([ref.width, ref.height]).toEqual([16, 2048]);
    });

    s.test('aliases follow the upload rules: unsafe characters to _, 32 characters, .png', 'generateImage', async () => {
      const userId = randomUUID();
      const cases: [string, string][] = [
        ['hero sprite!', 'hero_sprite_.png'],
        ['x'.repeat(40), `${'x'.repeat(32)}.png`],
        ['スライム', '____.png'],
        ['gem.png', 'gem.png'], // the output is PNG, so a name that says so is not doubled
        ['v1.2-final_B', 'v1_2-final_B.png'],
      ];
      for (const [name, alias] of cases) {
        const ref = await b().generateImage({ scope: { userId }, prompt: 'a blue gem', name, width: 32, height: 32 });
        expect(ref.alias, `name ${JSON.stringify(name)}`).toBe(alias);
        await expectStored(userId, ref);
      }
    });

    s.test('a name already taken gets _2, _3, …; other users are not affected', 'generateImage', async () => {
      const userId = randomUUID();
      const request: GenerateImageRequest = { scope: { userId }, prompt: 'a shiny coin', name: 'coin', width: 32, height: 32 };
      const first = await b().generateImage(request);
      const second = await b().generateImage(request);
      const third = await b().generateImage(request);
      expect([first.alias, second.alias, third.alias]).toEqual(['coin.png', 'coin_2.png', 'coin_3.png']);
      expect(new Set([first.path, second.path, third.path]).size).toBe(3);
      for (const ref of [first, second, third]) await expectStored(userId, ref);

      const other = randomUUID();
      const theirs = await b().generateImage({ ...request, scope: { userId: other } });
      expect(theirs.alias).toBe('coin.png');
      expect((await b().files.list(assetScope(userId))).length).toBe(3);
    });

    s.test('concurrent calls with one name never share an alias', 'generateImage', async () => {
      const userId = randomUUID();
      const request: GenerateImageRequest = { scope: { userId }, prompt: 'a star', name: 'star', width: 32, height: 32 };
      const refs = await Promise.all([b().generateImage(request), b().generateImage(request), b().generateImage(request)]);
      expect(refs.map((r) => r.alias).sort()).toEqual(['star.png', 'star_2.png', 'star_3.png']);
      expect((await b().files.list(assetScope(userId))).length).toBe(3);
    });

    s.test('invalid input is INVALID_ARGUMENT (a bad user id INVALID_SCOPE) and writes nothing', 'generateImage', async () => {
      const userId = randomUUID();
      const ok: GenerateImageRequest = { scope: { userId }, prompt: 'a cat' };
      const bad: Partial<GenerateImageRequest>[] = [
        { prompt: '' },
        { prompt: '   \n' },
        { prompt: 42 as unknown as string },
        { prompt: 'x'.repeat(100_000) },
        { width: 15 },
        { width: 2049 },
        { height: 0 },
        { width: 100.5 },
        { height: Number.NaN },
        { width: '512' as unknown as number },
        { style: 'cubism' as unknown as GenerateImageRequest['style'] },
        { name: '' },
        { transparent: 'yes' as unknown as boolean },
      ];
      for (const patch of bad) {
        await expectCode(b().generateImage({ ...ok, ...patch }), 'INVALID_ARGUMENT');
      }
      await expectCode(b().generateImage({ ...ok, scope: { userId: 'not-a-uuid' } }), 'INVALID_SCOPE');
      expect(await snapshot(b(), assetScope(userId))).toEqual({});
    });

    s.test('an already aborted signal is CANCELLED and writes nothing', 'generateImage', async () => {
      const userId = randomUUID();
      const controller = new AbortController();
      controller.abort();
      await expectCode(b().generateImage({ scope: { userId }, prompt: 'a cat', signal: controller.signal }), 'CANCELLED');
      expect(await snapshot(b(), assetScope(userId))).toEqual({});
    });

    // ---- cases that need the fake provider

    s.test('the provider receives the configured key and the prompt', 'generateImage', async (ctx) => {
      if (!fakeProviders) ctx.skip();
      const before = gemini.requests.length;
      await b().generateImage({ scope: { userId: randomUUID() }, prompt: 'a lighthouse on a rock', width: 32, height: 32 });
      const sent = gemini.requests.slice(before);
      expect(sent).toHaveLength(1);
      expect(sent[0]?.apiKey).toBe(apiKey);
      expect(sent[0]?.path).toMatch(/:generateContent$/);
      expect(sent[0]?.prompt).toContain('a lighthouse on a rock');
    });

    const faults: [marker: string, code: ErrorCode][] = [
      ['safety', 'SAFETY_BLOCKED'],
      ['image-safety', 'SAFETY_BLOCKED'],
      ['429', 'RATE_LIMIT'],
      ['malformed', 'MALFORMED_RESPONSE'],
      ['garbage', 'MALFORMED_RESPONSE'],
      ['not-json', 'MALFORMED_RESPONSE'],
      ['500', 'UNAVAILABLE'],
      ['503', 'UNAVAILABLE'],
      ['drop', 'UNAVAILABLE'],
    ];
    for (const [marker, code] of faults) {
      s.test(`provider fault [fault:${marker}] is ${code} and writes nothing`, 'generateImage', async (ctx) => {
        if (!fakeProviders) ctx.skip();
        const userId = randomUUID();
        const error = await expectCode(b().generateImage({ scope: { userId }, prompt: `[fault:${marker}] a friendly ghost`, name: 'ghost' }), code);
        if (code === 'RATE_LIMIT') expect((error as { recoverable?: boolean }).recoverable).toBe(true);
        if (code === 'SAFETY_BLOCKED') expect((error as { recoverable?: boolean }).recoverable).toBe(false);
        expect(await snapshot(b(), assetScope(userId))).toEqual({});
      });
    }

    s.test('a failure leaves existing assets and the next alias untouched', 'generateImage', async (ctx) => {
      if (!fakeProviders) ctx.skip();
      const userId = randomUUID();
      const first = await b().generateImage({ scope: { userId }, prompt: 'a bat', name: 'bat', width: 32, height: 32 });
      const before = await snapshot(b(), assetScope(userId));
      await expectCode(b().generateImage({ scope: { userId }, prompt: '[fault:500] a bat', name: 'bat' }), 'UNAVAILABLE');
      expect(await snapshot(b(), assetScope(userId))).toEqual(before);
      const second = await b().generateImage({ scope: { userId }, prompt: 'a bat', name: 'bat', width: 32, height: 32 });
      expect([first.alias, second.alias]).toEqual(['bat.png', 'bat_2.png']);
    });

    s.test('cancelling while the provider is working is CANCELLED, promptly, and writes nothing', 'generateImage', async (ctx) => {
      if (!fakeProviders) ctx.skip();
      const userId = randomUUID();
      const prompt = `[fault:hang] a slow snail ${randomUUID()}`;
      const controller = new AbortController();
      const call = b().generateImage({ scope: { userId }, prompt, signal: controller.signal });
      // Abort only once the provider really has the request in hand.
      const waitStart = Date.now();
      while (!gemini.requests.some((r) => r.prompt.includes(prompt))) {
        if (Date.now() - waitStart > 10_000) throw new Error('the request never reached the provider');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const started = Date.now();
      controller.abort();
      await expectCode(call, 'CANCELLED');
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(await snapshot(b(), assetScope(userId))).toEqual({});
    });
  });
}
