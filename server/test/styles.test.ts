// The style catalogue and the style gate's detection (the flow itself is in the contract cases).
import { describe, expect, it } from 'vitest';
import { decideStyle, findStyle, promptWithStyle, requestedDimension, SKIPPED_STYLE, styleOptions, styleRecord, STYLES } from '../src/styles.js';
import { stylePreviewSvg } from '../src/style-previews.js';
import { sanitizeSvg } from '../src/http/svg.js';

describe('requestedDimension', () => {
  it.each([
    ['2Dのシューティングゲームを作って', '2d'],
    ['３Ｄでレースゲームを作成して', '3d'],
    ['２ｄのパズルを作って', '2d'],
    ['Make a 3D maze game', '3d'],
    ['create a 2d platformer', '2d'],
    ['build me a 3-D? no: a 3D racer', '3d'],
  ])('%s → %s', (text, dimension) => {
    expect(requestedDimension(text)).toBe(dimension);
  });

  it.each([
    ['make the player faster'], // not naming a dimension
    ['2D'], // not a creation request
    ['make a game with 23D coins'], // a number that ends in 3, then D
    ['Make a game about 2Dollars'], // D starting a word
    ['Make a game'],
  ])('%s → null', (text) => {
    expect(requestedDimension(text)).toBeNull();
  });
});

describe('catalogue', () => {
  it('ids are unique per dimension and palettes are colours', () => {
    for (const styles of Object.values(STYLES)) {
      expect(new Set(styles.map((s) => s.id)).size).toBe(styles.length);
      for (const style of styles) for (const colour of style.palette) expect(colour).toMatch(/^#[0-9a-f]{6}$/);
    }
  });

  it('every preview card is well-formed, safe SVG that the upload sanitiser keeps whole', () => {
    for (const [dimension, styles] of Object.entries(STYLES)) {
      for (const style of styles) {
        const svg = stylePreviewSvg(style);
        const kept = sanitizeSvg(svg);
        // Nothing the sanitiser drops: the same elements come out.
        const tags = (text: string) => (text.match(/<[a-zA-Z][\w:-]*/g) ?? []).length;
        expect(tags(kept), `${dimension}/${style.id}`).toBe(tags(svg));
        expect(svg).toContain(style.palette[0]);
      }
    }
  });

  it('options point at the preview route; lookups refuse unknown ids and dimensions', () => {
    expect(styleOptions('3d')[0]!.imageUrl).toBe(`/styles/3d/${STYLES['3d'][0]!.id}.svg`);
    expect(findStyle('2d', 'retro')?.nameEn).toBe('Retro pixel');
    expect(findStyle('4d', 'retro')).toBeUndefined();
    expect(findStyle('3d', 'retro')).toBeUndefined();
  });

  it("STYLE.md and the prompt carry the guideline; the prompt starts with the user's words", () => {
    const style = findStyle('2d', 'neon')!;
    expect(styleRecord('2d', style)).toMatch(/^# Neon cyber \(ネオンサイバー\)\n\nid: neon\ndimension: 2d\n\nVisual style: Neon cyber/);
    const prompt = promptWithStyle('2Dのゲームを作って', '2d', style);
    expect(prompt.split('\n')[0]).toBe('2Dのゲームを作って');
    expect(prompt).toContain(style.palette.join(', '));
  });
});

describe('decideStyle', () => {
  /** A STYLE.md lookup that records whether it was needed. */
  const lookup = (decided: boolean) => {
    const reads: number[] = [];
    return { reads, hasStyle: async () => (reads.push(1), decided) };
  };

  it('asks on a first 2D/3D creation request, and not once STYLE.md holds a decision', async () => {
    const undecided = lookup(false);
    expect(await decideStyle({ content: 'Make a 3D maze game' }, null, undecided.hasStyle)).toEqual({ kind: 'ask', dimension: '3d' });
    const decided = lookup(true);
    expect(await decideStyle({ content: 'Make a 3D maze game' }, null, decided.hasStyle)).toEqual({
      kind: 'proceed',
      prompt: 'Make a 3D maze game',
      styleFile: null,
    });
  });

  it('other messages go straight through without reading STYLE.md', async () => {
    const l = lookup(false);
    expect(await decideStyle({ content: 'make it faster' }, null, l.hasStyle)).toEqual({ kind: 'proceed', prompt: 'make it faster', styleFile: null });
    expect(l.reads).toHaveLength(0);
  });

  it('an open question is a reminder for any message that does not answer it', async () => {
    const l = lookup(false);
    expect(await decideStyle({ content: 'make it faster' }, '2d', l.hasStyle)).toEqual({ kind: 'remind', dimension: '2d' });
  });

  it('an answer: the style goes into the prompt and STYLE.md; an unknown one is invalid', async () => {
    const l = lookup(false);
    const chosen = await decideStyle({ content: '2Dのゲームを作って', selectedStyle: { dimension: '2d', styleId: 'retro' } }, '2d', l.hasStyle);
    const retro = findStyle('2d', 'retro')!;
    expect(chosen).toEqual({ kind: 'proceed', prompt: promptWithStyle('2Dのゲームを作って', '2d', retro), styleFile: styleRecord('2d', retro) });
    expect(await decideStyle({ content: 'x', selectedStyle: { dimension: '2d', styleId: 'lowpoly' } }, null, l.hasStyle)).toMatchObject({ kind: 'invalid' });
  });

  it('a skip writes the SKIPPED marker, but never over a chosen style', async () => {
    expect(await decideStyle({ content: 'Make a 2D game', skipStyleSelection: true }, '2d', lookup(false).hasStyle)).toEqual({
      kind: 'proceed',
      prompt: 'Make a 2D game',
      styleFile: SKIPPED_STYLE,
    });
    expect(await decideStyle({ content: 'Make a 2D game', skipStyleSelection: true }, null, lookup(true).hasStyle)).toEqual({
      kind: 'proceed',
      prompt: 'Make a 2D game',
      styleFile: null,
    });
  });
});
