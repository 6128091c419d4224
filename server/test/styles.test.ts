// The style catalogue and the style gate's detection (the flow itself is in the contract cases).
import { describe, expect, it } from 'vitest';
import { findStyle, promptWithStyle, requestedDimension, styleOptions, stylePreviewSvg, styleRecord, STYLES } from '../src/styles.js';
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

  it('STYLE.md and the prompt carry the guideline; the prompt starts with the user\'s words', () => {
    const style = findStyle('2d', 'neon')!;
    expect(styleRecord('2d', style)).toMatch(/^# Neon cyber \(ネオンサイバー\)\n\nid: neon\ndimension: 2d\n\nVisual style: Neon cyber/);
    const prompt = promptWithStyle('2Dのゲームを作って', '2d', style);
    expect(prompt.split('\n')[0]).toBe('2Dのゲームを作って');
    expect(prompt).toContain(style.palette.join(', '));
  });
});
