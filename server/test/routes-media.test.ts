/**
 * The pure parts of the asset, publish and play routes: SVG sanitising, upload checks, publish validation, Range
 * parsing, game paths. (The HTTP contract over a running server is tested elsewhere.)
 */
import multer from 'multer';
import { describe, expect, it } from 'vitest';
import { createError } from '@dreamcore/runtime-core';
import { decodeXmlEntities, isSafeCss, sanitizeSvg, SvgError } from '../src/http/svg.js';
import { aliasSourceName, allowedSubtype, ALLOWED_TYPES_MESSAGE, checkAssetType, contentMatchesType, prepareAssetBytes } from '../src/http/file-types.js';
import { uploadErrorResponse } from '../src/http/upload.js';
import { imageErrorResponse, parseImageSize } from '../src/http/routes/assets.js';
import { draftView, isGameId, parseRange, publishedGameView, validateDraft, validatePublish } from '../src/http/routes/publish.js';
import { fallbackPlayPage, isHiddenGamePath, isSafeGamePath, isTopLevelDocument } from '../src/http/routes/play.js';
import { contentType } from '../src/http/game-files.js';

const wrap = (inner: string) => `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">${inner}</svg>`;

describe('sanitizeSvg', () => {
  it('keeps ordinary drawing content', () => {
    const input = wrap(
      '<defs><linearGradient id="g"><stop offset="0" stop-color="#f00"/></linearGradient></defs>' +
        '<g transform="translate(1 1)"><rect width="5" height="5" fill="url(#g)"/><circle cx="2" cy="2" r="1" style="fill: #00f"/></g>' +
        '<text x="1" y="9">Hi &amp; bye</text>',
    );
    const out = sanitizeSvg(input);
    expect(out).toContain('<linearGradient id="g">');
    expect(out).toContain('fill="url(#g)"');
    expect(out).toContain('style="fill: #00f"');
    expect(out).toContain('Hi &amp; bye');
    expect(out.startsWith('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"')).toBe(true);
  });

  it('removes script elements, including CDATA content and other namespaces', () => {
    const out = sanitizeSvg(
      wrap(
        '<script>alert(1)</script><script type="text/javascript"><![CDATA[ alert(2) ]]></script><html:script xmlns:html="http://www.w3.org/1999/xhtml">alert(3)</html:script><rect/>',
      ),
    );
    expect(out).not.toMatch(/script|alert/i);
    expect(out).toContain('<rect/>');
  });

  it('removes foreignObject with everything inside', () => {
    const out = sanitizeSvg(
      wrap('<foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><img src="x" onerror="alert(1)"/></body></foreignObject><path d="M0 0"/>'),
    );
    expect(out).not.toMatch(/foreignObject|img|onerror|body/i);
    expect(out).toContain('<path d="M0 0"/>');
  });

  it('removes event handler attributes in any case', () => {
    const out = sanitizeSvg(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect ONCLICK="x()" onMouseOver='y()' width="1"/></svg>`);
    expect(out).not.toMatch(/onload|onclick|onmouseover|alert/i);
    expect(out).toContain('width="1"');
  });

  it('removes external and script hrefs, keeps #fragments', () => {
    const out = sanitizeSvg(
      `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">` +
        `<use xlink:href="http://evil.example/sprite.svg#a"/><use href="#local"/><a href="javascript:alert(1)"><rect/></a>` +
        `<a xlink:href="&#106;avascript:alert(1)"><circle/></a><image href="https://evil.example/x.png"/>` +
        `<image href="data:image/png;base64,iVBORw0KGgo="/><image href="data:image/svg+xml;base64,PHN2Zz4="/></svg>`,
    );
    expect(out).not.toMatch(/evil|javascript|svg\+xml/i);
    expect(out).toContain('<use href="#local"/>');
    expect(out).toContain('href="data:image/png;base64,iVBORw0KGgo="');
    expect(out).toContain('<a><rect/></a>');
  });

  it('drops animations that could set a link or a handler', () => {
    const out = sanitizeSvg(
      wrap(
        '<a><set attributeName="href" to="javascript:alert(1)"/><animate attributeName="xlink:href" values="javascript:alert(1)"/><animate attributeName="opacity" values="0;1" dur="1s"/><rect/></a>',
      ),
    );
    expect(out).not.toMatch(/javascript|attributeName="(xlink:)?href"/);
    expect(out).toContain('attributeName="opacity"');
  });

  it('drops the DOCTYPE and its entities, comments and processing instructions', () => {
    const input =
      '<?xml version="1.0"?><?xml-stylesheet href="http://evil.example/x.xsl" type="text/xsl"?>' +
      '<!DOCTYPE svg [ <!ENTITY x "<script>alert(1)</script>"> <!-- ]> --> ]>' +
      '<!-- <script>alert(2)</script> --><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>';
    const out = sanitizeSvg(input);
    expect(out).not.toMatch(/script|ENTITY|DOCTYPE|stylesheet|<\?|<!--/);
    expect(out).toContain('<text>&amp;x;</text>'); // an undefined entity is shown literally, never expanded
  });

  it('drops unsafe CSS but keeps safe styles', () => {
    const out = sanitizeSvg(
      wrap(
        '<style>@import url(http://evil.example/x.css); rect{fill:red}</style><style>circle &gt; x{fill:url(#g)}</style><rect style="background:url(http://evil.example/t)"/><rect style="fill:red"/>',
      ),
    );
    expect(out).not.toContain('evil');
    expect(out).toContain('<style></style>');
    expect(out).toContain('<style>circle &gt; x{fill:url(#g)}</style>');
    expect(out).toContain('<rect style="fill:red"/>');
    expect(isSafeCss('fill: url( "#a" )')).toBe(true);
    expect(isSafeCss('fill: u\\72l(http://x)')).toBe(false);
    expect(isSafeCss('background: image-set("http://x/a.png" 1x)')).toBe(false);
  });

  it('drops editor metadata from other namespaces (Inkscape) without breaking the document', () => {
    const input =
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" inkscape:version="1.2">' +
      '<sodipodi:namedview pagecolor="#fff"/><metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata>' +
      '<g inkscape:label="Layer 1"><path d="M0 0L1 1"/></g></svg>';
    const out = sanitizeSvg(input);
    expect(out).not.toMatch(/inkscape|sodipodi|rdf|metadata/);
    expect(out).toContain('<g><path d="M0 0L1 1"/></g>');
  });

  it('is idempotent: sanitising the output changes nothing', () => {
    const input = wrap('<g id="a" class="b"><rect x="1" y="2" width="3" height="4" fill="#123"/><text>a &lt; b &quot;c&quot;</text></g><script>x</script>');
    const once = sanitizeSvg(input);
    expect(sanitizeSvg(once)).toBe(once);
  });

  it('refuses input that is not a well-formed SVG document', () => {
    expect(() => sanitizeSvg('<html><script>alert(1)</script></html>')).toThrow(SvgError);
    expect(() => sanitizeSvg('<svg><rect></svg>')).toThrow(SvgError);
    expect(() => sanitizeSvg('<svg><rect width=1/></svg>')).toThrow(SvgError);
    expect(() => sanitizeSvg('<svg></svg><svg></svg>')).toThrow(SvgError);
    expect(() => sanitizeSvg('not xml at all')).toThrow(SvgError);
    expect(() => sanitizeSvg('<svg a="1" a="2"/>')).toThrow(SvgError);
    expect(() => sanitizeSvg('<svg a="&bogus;"/>')).toThrow(SvgError);
  });

  it('decodes entities the way an XML parser does', () => {
    expect(decodeXmlEntities('&#x6A;&#97;&lt;&amp;', true)).toBe('ja<&');
    expect(() => decodeXmlEntities('&#0;', false)).toThrow(SvgError);
    expect(decodeXmlEntities('a & b &nbsp;', false)).toBe('a & b &nbsp;');
  });
});

describe('upload checks', () => {
  it('reads the MIME subtype as V2 did, plus the types browsers really send', () => {
    expect(allowedSubtype('image/png')).toBe('png');
    expect(allowedSubtype('image/svg+xml; charset=utf-8')).toBe('svg');
    expect(allowedSubtype('audio/x-wav')).toBe('wav');
    expect(allowedSubtype('audio/mpeg')).toBe('mp3');
    expect(allowedSubtype('application/json')).toBe('json');
    expect(allowedSubtype('text/html')).toBeNull();
    expect(allowedSubtype('application/octet-stream')).toBeNull();
    expect(allowedSubtype('garbage')).toBeNull();
  });

  it('needs both an allowed extension and an allowed MIME type', () => {
    expect(checkAssetType('Coin.PNG', 'image/png')).toEqual({ ok: true, ext: '.png', mimeType: 'image/png' });
    expect(checkAssetType('jump.mp3', 'audio/mpeg')).toEqual({ ok: true, ext: '.mp3', mimeType: 'audio/mpeg' });
    expect(checkAssetType('x.jpg', 'image/jpeg')).toMatchObject({ ok: true, mimeType: 'image/jpeg' });
    expect(checkAssetType('evil.html', 'image/png')).toEqual({ ok: false, error: ALLOWED_TYPES_MESSAGE });
    expect(checkAssetType('evil.png', 'text/html')).toEqual({ ok: false, error: ALLOWED_TYPES_MESSAGE });
    expect(checkAssetType('noext', 'image/png').ok).toBe(false);
  });

  it('checks that the bytes are what the extension says', () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
    expect(contentMatchesType('.png', png)).toBe(true);
    expect(contentMatchesType('.png', new TextEncoder().encode('<html>'))).toBe(false);
    expect(contentMatchesType('.jpg', Uint8Array.from([0xff, 0xd8, 0xff, 0xe0]))).toBe(true);
    expect(contentMatchesType('.gif', new TextEncoder().encode('GIF89a...'))).toBe(true);
    expect(contentMatchesType('.webp', new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe(true);
    expect(contentMatchesType('.wav', new TextEncoder().encode('RIFF\0\0\0\0WAVEfmt '))).toBe(true);
    expect(contentMatchesType('.ogg', new TextEncoder().encode('OggS\0'))).toBe(true);
    expect(contentMatchesType('.mp3', new TextEncoder().encode('ID3\u0004'))).toBe(true);
    expect(contentMatchesType('.mp3', Uint8Array.from([0xff, 0xfb, 0x90]))).toBe(true);
    expect(contentMatchesType('.json', new TextEncoder().encode('{"a":1}'))).toBe(true);
    expect(contentMatchesType('.json', new TextEncoder().encode('{a:1}'))).toBe(false);
  });

  it('sanitises SVG uploads and refuses bad ones with a message', () => {
    const ok = prepareAssetBytes('.svg', new TextEncoder().encode(wrap('<rect onclick="x()"/>')));
    expect(ok.ok && new TextDecoder().decode(ok.bytes)).toBe(
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10"><rect/></svg>',
    );
    expect(prepareAssetBytes('.svg', new TextEncoder().encode('<html/>'))).toMatchObject({ ok: false, error: expect.stringMatching(/^Invalid SVG file/) });
    expect(prepareAssetBytes('.png', new TextEncoder().encode('nope'))).toEqual({ ok: false, error: 'File content does not match its type (png)' });
    expect(prepareAssetBytes('.json', new Uint8Array())).toEqual({ ok: false, error: 'File is empty' });
  });

  it('derives the alias source from the display name and the real extension', () => {
    expect(aliasSourceName('My Coin.png', '.png')).toBe('My Coin.png');
    expect(aliasSourceName('My Coin', '.png')).toBe('My Coin.png');
    expect(aliasSourceName('hero.jpeg', '.png')).toBe('hero.png');
    expect(aliasSourceName('v1.2 final', '.png')).toBe('v1.2 final.png');
    expect(aliasSourceName('  ', '.ogg')).toBe('asset.ogg');
  });

  it('turns multer errors into 413 / 400 answers', () => {
    expect(uploadErrorResponse(new multer.MulterError('LIMIT_FILE_SIZE', 'file'), 1024 * 1024)).toEqual({
      status: 413,
      error: 'File too large (max 1 MB)',
      code: 'TOO_LARGE',
    });
    expect(uploadErrorResponse(new multer.MulterError('LIMIT_FILE_SIZE', 'thumbnail'), 5 * 1024 * 1024)).toEqual({
      status: 413,
      error: 'File too large (max 5 MB)',
      code: 'TOO_LARGE',
    });
    expect(uploadErrorResponse(new multer.MulterError('LIMIT_UNEXPECTED_FILE', 'image'), 1)).toEqual({
      status: 400,
      error: 'Unexpected file field "image"',
      code: 'INVALID_UPLOAD',
    });
    expect(uploadErrorResponse(new Error('Unexpected end of form'), 1)).toMatchObject({ status: 400 });
    expect(uploadErrorResponse(new Error('database down'), 1)).toBeNull();
  });
});

describe('image generation helpers', () => {
  it('parses V2 size strings', () => {
    expect(parseImageSize(undefined)).toEqual({ width: 512, height: 512 });
    expect(parseImageSize('256x128')).toEqual({ width: 256, height: 128 });
    expect(parseImageSize('1024 × 1024')).toEqual({ width: 1024, height: 1024 });
    expect(parseImageSize('big')).toBeNull();
  });

  it('maps backend errors to the contract statuses', () => {
    expect(imageErrorResponse(createError('NOT_CONFIGURED', 'no key'))).toEqual({ status: 503, error: 'Image generation service not available' });
    expect(imageErrorResponse(createError('SAFETY_BLOCKED', 'blocked by safety'))).toMatchObject({ status: 422 });
    expect(imageErrorResponse(createError('RATE_LIMIT', 'slow down'))).toMatchObject({ status: 429 });
    expect(imageErrorResponse(createError('INVALID_ARGUMENT', 'width must be an integer'))).toEqual({ status: 400, error: 'width must be an integer' });
    expect(imageErrorResponse(createError('MALFORMED_RESPONSE', 'no image'))).toEqual({ status: 500, error: 'no image' });
    expect(imageErrorResponse(new Error('secret detail'))).toEqual({ status: 500, error: 'Image generation failed' });
  });
});

describe('publish validation', () => {
  it('keeps V2 messages', () => {
    expect(validatePublish({})).toEqual({ ok: false, error: 'Title is required' });
    expect(validatePublish({ title: '   ' })).toEqual({ ok: false, error: 'Title is required' });
    expect(validatePublish({ title: 'A', visibility: 'friends' })).toEqual({ ok: false, error: 'Invalid visibility option' });
    expect(validatePublish({ title: 'A', tags: 'x,y' })).toEqual({ ok: false, error: 'Tags must be an array of strings' });
    expect(validatePublish({ title: 'A', tags: ['x', 3] })).toEqual({ ok: false, error: 'Tags must be an array of strings' });
  });

  it('fills V2 defaults and trims', () => {
    expect(validatePublish({ title: '  Space Run ', tags: [' a ', 'a', '', 'b'] })).toEqual({
      ok: true,
      value: { title: 'Space Run', description: null, howToPlay: null, tags: ['a', 'b'], visibility: 'public', allowRemix: true, thumbnailUrl: null },
    });
    expect(validatePublish({ title: 'x', allowRemix: false, visibility: 'unlisted' })).toMatchObject({
      ok: true,
      value: { allowRemix: false, visibility: 'unlisted' },
    });
  });

  it('accepts only safe thumbnail URLs', () => {
    expect(validatePublish({ title: 'x', thumbnailUrl: '/api/projects/p/thumbnail?t=1' })).toMatchObject({ ok: true });
    expect(validatePublish({ title: 'x', thumbnailUrl: 'https://cdn.example/t.webp' })).toMatchObject({ ok: true });
    expect(validatePublish({ title: 'x', thumbnailUrl: 'javascript:alert(1)' })).toEqual({ ok: false, error: 'Invalid thumbnail URL' });
    expect(validatePublish({ title: 'x', thumbnailUrl: '//evil.example/x' })).toEqual({ ok: false, error: 'Invalid thumbnail URL' });
  });

  it('bounds sizes', () => {
    expect(validatePublish({ title: 'x'.repeat(201) })).toMatchObject({ ok: false });
    expect(validatePublish({ title: 'x', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) })).toMatchObject({ ok: false });
    expect(validatePublish({ title: 'x', description: 42 })).toEqual({ ok: false, error: 'Description must be a string' });
  });

  it('validates drafts with defaults', () => {
    expect(validateDraft({})).toEqual({
      ok: true,
      value: { title: null, description: null, howToPlay: null, tags: [], visibility: 'public', remix: 'allowed', thumbnailUrl: null },
    });
    expect(validateDraft({ remix: 'maybe' })).toEqual({ ok: false, error: 'Invalid remix option' });
    expect(validateDraft({ visibility: 'x' })).toEqual({ ok: false, error: 'Invalid visibility option' });
    expect(validateDraft({ title: 'T', howToPlay: 'Tap', remix: 'disallow' })).toMatchObject({
      ok: true,
      value: { title: 'T', howToPlay: 'Tap', remix: 'disallow' },
    });
  });

  it('recognises game ids', () => {
    expect(isGameId('g_AbCdEf1234')).toBe(true);
    expect(isGameId('0190a0b0-1234-7abc-8def-0123456789ab')).toBe(true);
    expect(isGameId('g_short')).toBe(false);
    expect(isGameId('p_AbCdEf1234')).toBe(false);
    expect(isGameId(undefined)).toBe(false);
  });

  it('shows records in the API shapes', () => {
    const game = publishedGameView({
      id: 'id',
      publicId: 'g_AbCdEf1234',
      projectId: 'p',
      userId: 'u',
      title: 't',
      description: null,
      howToPlay: 'h',
      tags: ['a'],
      thumbnailUrl: null,
      visibility: 'public',
      allowRemix: true,
      playCount: 3,
      likeCount: 0,
      publishedAt: 'x',
      updatedAt: 'y',
      commitHash: null,
      unpublishedAt: null,
      project: { id: 'p', name: 'P' },
      author: { displayName: 'D', avatarUrl: null },
    });
    expect(game).toMatchObject({
      public_id: 'g_AbCdEf1234',
      how_to_play: 'h',
      play_count: 3,
      projects: { id: 'p', name: 'P' },
      users: { display_name: 'D', avatar_url: null },
    });
    const draft = draftView({
      projectId: 'p',
      title: 't',
      description: null,
      howToPlay: 'h',
      tags: [],
      visibility: 'public',
      remix: 'allowed',
      thumbnailUrl: '/x',
      updatedAt: 'z',
    });
    expect(draft).toMatchObject({ project_id: 'p', how_to_play: 'h', howToPlay: 'h', thumbnail_url: '/x', thumbnailUrl: '/x' });
  });
});

describe('parseRange', () => {
  const size = 1000;
  it('serves the whole body without a usable Range', () => {
    expect(parseRange(undefined, size)).toEqual({ kind: 'full' });
    expect(parseRange('items=0-1', size)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-1,5-6', size)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=9-3', size)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=-', size)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=abc', size)).toEqual({ kind: 'full' });
  });
  it('reads single ranges', () => {
    expect(parseRange('bytes=0-99', size)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(parseRange('bytes=500-', size)).toEqual({ kind: 'partial', start: 500, end: 999 });
    expect(parseRange('bytes=900-5000', size)).toEqual({ kind: 'partial', start: 900, end: 999 });
    expect(parseRange('bytes=-100', size)).toEqual({ kind: 'partial', start: 900, end: 999 });
    expect(parseRange('bytes=-5000', size)).toEqual({ kind: 'partial', start: 0, end: 999 });
    expect(parseRange('BYTES = 0 - 0', size)).toEqual({ kind: 'partial', start: 0, end: 0 });
  });
  it('says when a range cannot be satisfied', () => {
    expect(parseRange('bytes=1000-', size)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', size)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('play helpers', () => {
  it('accepts only relative, clean game paths', () => {
    expect(isSafeGamePath('index.html')).toBe(true);
    expect(isSafeGamePath('js/game.js')).toBe(true);
    expect(isSafeGamePath('../x')).toBe(false);
    expect(isSafeGamePath('a/../../x')).toBe(false);
    expect(isSafeGamePath('/etc/passwd')).toBe(false);
    expect(isSafeGamePath('a\\b')).toBe(false);
    expect(isSafeGamePath('a//b')).toBe(false);
  });
  it('hides dot-files and the publish info', () => {
    expect(isHiddenGamePath('.git/config')).toBe(true);
    expect(isHiddenGamePath('.ai-context/x.json')).toBe(true);
    expect(isHiddenGamePath('PUBLISH.json')).toBe(true);
    expect(isHiddenGamePath('levels/level1.json')).toBe(false);
  });
  it('recognises top-level navigation', () => {
    const req = (dest?: string) => ({ get: (name: string) => (name === 'sec-fetch-dest' ? dest : undefined) }) as never;
    expect(isTopLevelDocument(req('document'))).toBe(true);
    expect(isTopLevelDocument(req('iframe'))).toBe(false);
    expect(isTopLevelDocument(req(undefined))).toBe(false);
  });
  it('escapes the title in the fallback play page', () => {
    const html = fallbackPlayPage({ publicId: 'g_AbCdEf1234', title: '<img src=x onerror=alert(1)>', description: null }, 'n0nce');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('src="/g/g_AbCdEf1234/index.html"');
    expect(html).toContain('nonce="n0nce"');
  });
});

describe('names from the input are never looked up on a plain object', () => {
  const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

  it('an SVG entity named after a prototype member is an unknown entity, not a function', () => {
    for (const name of names) {
      expect(decodeXmlEntities(`a &${name}; b`, false)).toBe(`a &${name}; b`);
      expect(() => decodeXmlEntities(`&${name};`, true)).toThrow(SvgError);
    }
  });

  it('file types: extensions and MIME subtypes named after prototype members are not types', () => {
    for (const name of names) {
      expect(allowedSubtype(`image/${name}`)).toBeNull();
      expect(checkAssetType(`a.${name}`, 'image/png')).toEqual({ ok: false, error: ALLOWED_TYPES_MESSAGE });
      expect(aliasSourceName(`hero.${name}`, '.png')).toBe(`hero.${name}.png`);
      expect(contentType(`game.${name}`)).toBe('application/octet-stream');
    }
  });
});
