/**
 * SVG sanitising for uploaded assets. An SVG served from `/user-assets/…` on the app's own origin is a document
 * that can run script when opened directly, so an upload is parsed (strict XML, no DTD) and re-serialised from an
 * allowlist: SVG elements only (no script, foreignObject, handler, HTML, or other namespaces' elements), no `on*`
 * attributes, `href`/`xlink:href` only to a `#fragment` (or a raster `data:image/…` on `<image>`/`<feImage>`), no
 * animation that targets `href` or an event attribute, and CSS without `@import`, escapes or external `url(…)`.
 *
 * The output is built from tokens, never copied through, so a browser parses exactly what was checked. Comments,
 * processing instructions, the DOCTYPE (and with it entity definitions) and CDATA wrappers are not kept.
 * Input that is not well-formed XML, or whose root is not `<svg>`, is refused with `SvgError`.
 */

export class SvgError extends Error {
  override readonly name = 'SvgError';
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const XLINK_NS = 'http://www.w3.org/1999/xlink';
const MAX_DEPTH = 256;

/** Lower-cased local names of the SVG elements kept (with their content). Anything else goes, subtree and all. */
const ELEMENTS = new Set([
  'svg',
  'g',
  'defs',
  'symbol',
  'use',
  'switch',
  'title',
  'desc',
  'a',
  'view',
  'style',
  'path',
  'rect',
  'circle',
  'ellipse',
  'line',
  'polyline',
  'polygon',
  'image',
  'text',
  'tspan',
  'textpath',
  'lineargradient',
  'radialgradient',
  'stop',
  'pattern',
  'clippath',
  'mask',
  'marker',
  'filter',
  'feblend',
  'fecolormatrix',
  'fecomponenttransfer',
  'fecomposite',
  'feconvolvematrix',
  'fediffuselighting',
  'fedisplacementmap',
  'fedistantlight',
  'fedropshadow',
  'feflood',
  'fefunca',
  'fefuncb',
  'fefuncg',
  'fefuncr',
  'fegaussianblur',
  'feimage',
  'femerge',
  'femergenode',
  'femorphology',
  'feoffset',
  'fepointlight',
  'fespecularlighting',
  'fespotlight',
  'fetile',
  'feturbulence',
  'animate',
  'animatetransform',
  'animatemotion',
  'set',
  'mpath',
]);
const ANIMATIONS = new Set(['animate', 'animatetransform', 'animatemotion', 'set']);
const RASTER_DATA_URL = /^data:image\/(?:png|jpe?g|gif|webp);base64,[a-z0-9+/=]*$/i;
const NAME = /^[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?$/;
// A Map: the entity name comes from the uploaded file (`&constructor;` must stay an unknown entity).
const PREDEFINED: ReadonlyMap<string, string> = new Map([
  ['lt', '<'],
  ['gt', '>'],
  ['amp', '&'],
  ['quot', '"'],
  ['apos', "'"],
]);

// ---------------------------------------------------------------- entities and escaping

/** Decodes the five predefined entities and character references; `strict` refuses any other `&…`. */
export function decodeXmlEntities(text: string, strict: boolean): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z][\w.-]*);|&/g, (whole, ref: string | undefined) => {
    if (ref === undefined) {
      if (strict) throw new SvgError('a bare "&" is not allowed in an attribute value');
      return whole;
    }
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      const valid =
        code === 0x9 ||
        code === 0xa ||
        code === 0xd ||
        (code >= 0x20 && code <= 0xd7ff) ||
        (code >= 0xe000 && code <= 0x10ffff && !(code >= 0xfffe && code <= 0xffff));
      if (!valid) throw new SvgError(`invalid character reference &${ref};`);
      return String.fromCodePoint(code);
    }
    const value = PREDEFINED.get(ref);
    if (value !== undefined) return value;
    if (strict) throw new SvgError(`undefined entity &${ref};`);
    return whole; // text: shown literally (it is re-escaped below)
  });
}

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escapeAttr(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

// ---------------------------------------------------------------- CSS

/** For scheme checks: what a URL parser would see (controls and whitespace dropped, lower case). */
function squash(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what a URL parser drops
  return value.replace(/[\u0000-\u0020\u007f-\u009f]+/g, '').toLowerCase();
}

/**
 * CSS (a `style` attribute or a `<style>` element) is kept only when it cannot fetch or run anything: no escapes
 * (which could spell any of the following), no `@import`, no `expression(`, no script schemes, no `-moz-binding` /
 * `behavior`, and every `url(…)` pointing at a `#fragment` or a raster data URL. Otherwise it is dropped whole.
 */
export function isSafeCss(css: string): boolean {
  if (css.includes('\\')) return false;
  const flat = squash(css);
  if (/@import|@namespace|expression\(|image-set\(|javascript:|vbscript:|-moz-binding|behavior:/.test(flat)) return false;
  const urls = css.matchAll(/url\s*\(\s*(["']?)([^"')]*)\1\s*\)/gi);
  for (const match of urls) {
    const target = (match[2] ?? '').trim();
    if (!target.startsWith('#') && !RASTER_DATA_URL.test(squash(target))) return false;
  }
  // A `url(` the pattern above could not read (odd quoting) is refused too.
  const opened = (flat.match(/url\(/g) ?? []).length;
  return opened === [...css.matchAll(/url\s*\(\s*(["']?)([^"')]*)\1\s*\)/gi)].length;
}

// ---------------------------------------------------------------- attributes

interface Attr {
  name: string;
  value: string; // decoded
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return (colon === -1 ? name : name.slice(colon + 1)).toLowerCase();
}

function prefixOf(name: string): string | null {
  const colon = name.indexOf(':');
  return colon === -1 ? null : name.slice(0, colon);
}

/** The attributes that survive on an element (`element` is its lower-cased local name). */
function keepAttributes(element: string, attrs: Attr[], isRoot: boolean): Attr[] {
  const kept: Attr[] = [];
  for (const attr of attrs) {
    const { name, value } = attr;
    const prefix = prefixOf(name);
    const local = localName(name);
    if (name === 'xmlns') {
      // The root is put in the SVG namespace below; a descendant may only restate it.
      if (!isRoot && value === SVG_NS) kept.push(attr);
      continue;
    }
    if (prefix === 'xmlns') {
      if (local === 'xlink' && value === XLINK_NS) kept.push(attr);
      continue; // other namespaces' elements and attributes are dropped, so their declarations go too
    }
    if (prefix !== null && prefix !== 'xlink' && prefix !== 'xml') continue;
    if (prefix === 'xml' && local === 'base') continue;
    if (local.startsWith('on')) continue;
    const flat = squash(value);
    if (local === 'href') {
      const raster = (element === 'image' || element === 'feimage') && RASTER_DATA_URL.test(flat);
      if (!value.trim().startsWith('#') && !raster) continue;
      kept.push(attr);
      continue;
    }
    if (/(?:javascript|vbscript|livescript):|data:text\/html/.test(flat)) continue;
    if (local === 'style' && !isSafeCss(value)) continue;
    if (/url\(/.test(flat) && !isSafeCss(value)) continue; // fill="url(http://…)" and the like
    kept.push(attr);
  }
  if (!isRoot) return kept;
  // The root always declares SVG as the default namespace and the xlink prefix (descendants may use it).
  return [{ name: 'xmlns', value: SVG_NS }, { name: 'xmlns:xlink', value: XLINK_NS }, ...kept.filter((a) => a.name !== 'xmlns:xlink')];
}

/** An animation element that could set a link or an event handler is dropped whole. */
function isDangerousAnimation(element: string, attrs: Attr[]): boolean {
  if (!ANIMATIONS.has(element)) return false;
  const target = attrs.find((a) => a.name === 'attributeName');
  if (!target) return false;
  const local = localName(target.value.trim());
  return local === 'href' || local.startsWith('on');
}

// ---------------------------------------------------------------- the tokenizer

interface Frame {
  name: string;
  /** Dropped: nothing inside is emitted (but it is still parsed, to find the matching end tag). */
  dropped: boolean;
  /** A kept `<style>` element: its text is collected and checked as CSS at the end tag. */
  style: string | null;
}

function parseStartTag(source: string, start: number): { name: string; attrs: Attr[]; selfClosing: boolean; end: number } {
  let i = start + 1;
  const nameMatch = /^[A-Za-z_][\w.:-]*/.exec(source.slice(i, i + 200));
  if (!nameMatch) throw new SvgError('malformed tag');
  const name = nameMatch[0];
  if (!NAME.test(name)) throw new SvgError(`invalid element name ${name}`);
  i += name.length;
  const attrs: Attr[] = [];
  const seen = new Set<string>();
  for (;;) {
    const wsStart = i;
    while (i < source.length && /\s/.test(source[i]!)) i++;
    const ch = source[i];
    if (ch === undefined) throw new SvgError('unterminated tag');
    if (ch === '>') return { name, attrs, selfClosing: false, end: i + 1 };
    if (ch === '/') {
      if (source[i + 1] !== '>') throw new SvgError('malformed tag end');
      return { name, attrs, selfClosing: true, end: i + 2 };
    }
    if (i === wsStart) throw new SvgError('attributes must be separated by whitespace');
    const attrMatch = /^[A-Za-z_][\w.:-]*/.exec(source.slice(i, i + 200));
    if (!attrMatch || !NAME.test(attrMatch[0])) throw new SvgError('malformed attribute name');
    const attrName = attrMatch[0];
    i += attrName.length;
    while (i < source.length && /\s/.test(source[i]!)) i++;
    if (source[i] !== '=') throw new SvgError(`attribute ${attrName} has no value`);
    i++;
    while (i < source.length && /\s/.test(source[i]!)) i++;
    const quote = source[i];
    if (quote !== '"' && quote !== "'") throw new SvgError(`attribute ${attrName} value must be quoted`);
    const close = source.indexOf(quote, i + 1);
    if (close === -1) throw new SvgError('unterminated attribute value');
    const raw = source.slice(i + 1, close);
    if (raw.includes('<')) throw new SvgError('"<" is not allowed in an attribute value');
    if (seen.has(attrName)) throw new SvgError(`duplicate attribute ${attrName}`);
    seen.add(attrName);
    // XML attribute-value normalisation: literal whitespace characters become spaces.
    attrs.push({ name: attrName, value: decodeXmlEntities(raw.replace(/[\t\n\r]/g, ' '), true) });
    i = close + 1;
  }
}

/** Sanitises an SVG document (see the file comment). Throws `SvgError` for input that is not a well-formed SVG. */
export function sanitizeSvg(input: string): string {
  const source = input.replace(/^\uFEFF/, '');
  const out: string[] = [];
  const stack: Frame[] = [];
  let rootSeen = false;
  let rootClosed = false;
  let i = 0;

  const emitText = (text: string) => {
    const top = stack[stack.length - 1];
    if (!top) {
      if (text.trim() !== '') throw new SvgError('text outside the root element');
      return;
    }
    if (top.dropped) return;
    if (top.style !== null) top.style += text;
    else out.push(escapeText(text));
  };

  while (i < source.length) {
    const lt = source.indexOf('<', i);
    const textEnd = lt === -1 ? source.length : lt;
    if (textEnd > i) {
      const raw = source.slice(i, textEnd);
      if (raw.includes(']]>')) throw new SvgError('"]]>" is not allowed in text');
      emitText(decodeXmlEntities(raw, false));
    }
    if (lt === -1) break;
    i = lt;

    if (source.startsWith('<!--', i)) {
      const end = source.indexOf('-->', i + 4);
      if (end === -1) throw new SvgError('unterminated comment');
      i = end + 3;
    } else if (source.startsWith('<![CDATA[', i)) {
      const end = source.indexOf(']]>', i + 9);
      if (end === -1) throw new SvgError('unterminated CDATA section');
      if (stack.length === 0) throw new SvgError('CDATA outside the root element');
      emitText(source.slice(i + 9, end));
      i = end + 3;
    } else if (source.startsWith('<?', i)) {
      const end = source.indexOf('?>', i + 2);
      if (end === -1) throw new SvgError('unterminated processing instruction');
      i = end + 2;
    } else if (source.startsWith('<!', i)) {
      if (rootSeen || !/^<!DOCTYPE\s/i.test(source.slice(i, i + 10))) throw new SvgError('unexpected markup declaration');
      i = skipDoctype(source, i);
    } else if (source.startsWith('</', i)) {
      const end = source.indexOf('>', i + 2);
      if (end === -1) throw new SvgError('unterminated end tag');
      const name = source.slice(i + 2, end).trim();
      const frame = stack.pop();
      if (!frame || frame.name !== name) throw new SvgError(`mismatched end tag </${name.slice(0, 40)}>`);
      if (!frame.dropped) {
        if (frame.style !== null) out.push(isSafeCss(frame.style) ? escapeText(frame.style) : '');
        out.push(`</${outputName(frame.name)}>`);
      }
      if (stack.length === 0) rootClosed = true;
      i = end + 1;
    } else {
      if (rootClosed) throw new SvgError('content after the root element');
      const tag = parseStartTag(source, i);
      const isRoot = stack.length === 0;
      const element = localName(tag.name);
      if (isRoot && element !== 'svg') throw new SvgError('the root element must be <svg>');
      if (stack.length >= MAX_DEPTH) throw new SvgError('elements are nested too deeply');
      rootSeen = true;
      const parent = stack[stack.length - 1];
      const prefix = prefixOf(tag.name);
      const dropped =
        (parent?.dropped ?? false) ||
        parent?.style != null || // markup inside <style> is not CSS
        (prefix !== null && prefix !== 'svg') ||
        !ELEMENTS.has(element) ||
        isDangerousAnimation(element, tag.attrs);
      if (!dropped) {
        const attrs = keepAttributes(element, tag.attrs, isRoot);
        const rendered = attrs.map((a) => ` ${a.name}="${escapeAttr(a.value)}"`).join('');
        out.push(`<${outputName(tag.name)}${rendered}${tag.selfClosing ? '/>' : '>'}`);
      }
      if (tag.selfClosing) {
        if (isRoot) rootClosed = true;
      } else {
        stack.push({ name: tag.name, dropped, style: !dropped && element === 'style' ? '' : null });
      }
      i = tag.end;
    }
  }
  if (!rootSeen) throw new SvgError('no <svg> element');
  if (stack.length > 0) throw new SvgError(`unclosed element <${stack[stack.length - 1]!.name.slice(0, 40)}>`);
  return out.join('');
}

/** `svg:rect` is written as `rect`: the `svg` prefix's declaration is not kept, the default namespace is SVG. */
function outputName(name: string): string {
  return name.startsWith('svg:') ? name.slice(4) : name;
}

/** Skips `<!DOCTYPE …>` including an internal subset, honouring quoted strings and comments inside it. */
function skipDoctype(source: string, start: number): number {
  let i = start + 9;
  let inSubset = false;
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === '"' || ch === "'") {
      const close = source.indexOf(ch, i + 1);
      if (close === -1) break;
      i = close + 1;
      continue;
    }
    if (inSubset && source.startsWith('<!--', i)) {
      const close = source.indexOf('-->', i + 4);
      if (close === -1) break;
      i = close + 3;
      continue;
    }
    if (ch === '[') inSubset = true;
    else if (ch === ']') inSubset = false;
    else if (ch === '>' && !inSubset) return i + 1;
    i++;
  }
  throw new SvgError('unterminated DOCTYPE');
}
