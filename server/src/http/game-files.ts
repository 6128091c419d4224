/**
 * Serving a project's game files as DreamCore's preview does: content types, the `index.html` injection
 * (`window.ASSET_BASE_URL` and the error reporter that posts `gameError`/`gameLoaded` to the editor), and the
 * `/user-assets/` rewrite in text files; and the sandbox every game runs in on this server's origin (a CSP
 * `sandbox`, with stand-ins for what an opaque origin takes away).
 */
import type { Response } from 'express';
import { isBackendError, type ExecutionBackend, type FileScope } from '@dreamcore/runtime-core';

// A Map, not an object literal: the extension comes from the request (`x.constructor` must not find a function).
const TYPES: ReadonlyMap<string, string> = new Map([
  ['html', 'text/html; charset=utf-8'],
  ['css', 'text/css; charset=utf-8'],
  ['js', 'text/javascript; charset=utf-8'],
  ['mjs', 'text/javascript; charset=utf-8'],
  ['json', 'application/json; charset=utf-8'],
  ['png', 'image/png'],
  ['jpg', 'image/jpeg'],
  ['jpeg', 'image/jpeg'],
  ['gif', 'image/gif'],
  ['webp', 'image/webp'],
  ['svg', 'image/svg+xml'],
  ['mp3', 'audio/mpeg'],
  ['wav', 'audio/wav'],
  ['ogg', 'audio/ogg'],
  ['woff', 'font/woff'],
  ['woff2', 'font/woff2'],
  ['ttf', 'font/ttf'],
  ['mp4', 'video/mp4'],
  ['txt', 'text/plain; charset=utf-8'],
  ['md', 'text/markdown; charset=utf-8'],
]);
const TEXT = new Set(['html', 'css', 'js', 'mjs', 'json']);

export function contentType(path: string): string {
  return TYPES.get(path.split('.').pop()?.toLowerCase() ?? '') ?? 'application/octet-stream';
}

const ERROR_REPORTER = `<script>(function(){var errors=[];function post(m){try{window.parent.postMessage(m,'*')}catch(e){}}
function report(e){if(errors.length>=10)return;errors.push(e);post({type:'gameError',errors:errors.slice()})}
window.addEventListener('error',function(ev){report({type:'error',message:String(ev.message||'Error'),file:ev.filename,line:ev.lineno,column:ev.colno,stack:ev.error&&ev.error.stack})});
window.addEventListener('unhandledrejection',function(ev){var r=ev.reason;report({type:'unhandledrejection',message:String(r&&r.message||r),stack:r&&r.stack})});
window.addEventListener('load',function(){setTimeout(function(){post({type:'gameLoaded',success:errors.length===0,errorCount:errors.length,errors:errors.slice()})},500)});})();</script>`;

/**
 * A press on the game, reported to the page around it, which then gives the frame the keyboard: games that cancel
 * `pointerdown` (to stop scrolling and selection on phones) also cancel the focus a press would give their frame.
 * Listened for in the capture phase, before the game's own handler.
 */
const POINTER_REPORTER = `<script>addEventListener('pointerdown',function(){try{window.parent.postMessage({type:'gamePointerDown'},'*')}catch(e){}},true);</script>`;

export function injectIntoHtml(html: string, assetBase: string, extraHead = ''): string {
  const head = `<script>window.ASSET_BASE_URL=${JSON.stringify(assetBase)};</script>${ERROR_REPORTER}${POINTER_REPORTER}${extraHead}`;
  const match = /<head[^>]*>/i.exec(html);
  return match ? html.slice(0, match.index + match[0].length) + head + html.slice(match.index + match[0].length) : head + html;
}

/** `/user-assets/` after a quote, `(`, whitespace or at the start becomes `{assetBase}/user-assets/`. */
export function rewriteAssetUrls(text: string, assetBase: string): string {
  return text.replace(/(^|["'`(\s])\/user-assets\//g, `$1${assetBase}/user-assets/`);
}

export interface SendOptions {
  assetBase: string;
  inject: boolean;
  extraHead?: string;
}

/** A file of the project as it is now. */
export function sendProjectFile(res: Response, backend: ExecutionBackend, scope: FileScope, path: string, options: SendOptions): Promise<void> {
  return sendGameFile(res, path, () => backend.files.read(scope, path), options);
}

/** A game file whose bytes `read` gets (the project now, or a published snapshot), rewritten as the preview does. */
export async function sendGameFile(res: Response, path: string, read: () => Promise<Uint8Array>, options: SendOptions): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await read();
  } catch (error) {
    if (isBackendError(error, 'NOT_FOUND') || isBackendError(error, 'CONFLICT')) {
      res.status(404).type('text/plain').send('File not found');
      return;
    }
    if (isBackendError(error, 'INVALID_PATH') || isBackendError(error, 'ACCESS_DENIED')) {
      res.status(400).json({ error: 'Invalid file path' });
      return;
    }
    throw error;
  }
  const ext = path.split('.').pop()?.toLowerCase() ?? '';
  res.setHeader('Content-Type', contentType(path));
  res.setHeader('Cache-Control', ext === 'html' ? 'no-store' : 'private, max-age=60');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (!TEXT.has(ext)) {
    res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return;
  }
  let text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  text = rewriteAssetUrls(text, options.assetBase);
  if (ext === 'html' && options.inject) text = injectIntoHtml(text, options.assetBase, options.extraHead);
  res.end(text);
}

/** Inside the sandbox `localStorage` throws; games get a per-page in-memory one instead of crashing. */
export const STORAGE_SHIM =
  '<script>(function(){function mem(){var d=Object.create(null);return{getItem:function(k){k=String(k);return k in d?d[k]:null},' +
  'setItem:function(k,v){d[String(k)]=String(v)},removeItem:function(k){delete d[String(k)]},clear:function(){d=Object.create(null)},' +
  'key:function(i){var ks=Object.keys(d);return i<ks.length?ks[i]:null},get length(){return Object.keys(d).length}}}' +
  "['localStorage','sessionStorage'].forEach(function(n){try{window[n].getItem('_')}catch(e){try{Object.defineProperty(window,n,{value:mem(),configurable:true})}catch(e2){}}})})();</script>";

/**
 * In the sandbox even the game's own images are cross-origin, so drawing one taints the canvas and `getImageData`
 * throws. Images a script loads from this server are therefore requested with CORS (which `/g/` and public assets
 * allow); images from elsewhere are left alone so they still load.
 */
export const CORS_IMAGES_SHIM =
  "<script>(function(){try{var p=HTMLImageElement.prototype,d=Object.getOwnPropertyDescriptor(p,'src');if(!d||!d.set)return;" +
  "var base=typeof window.ASSET_BASE_URL==='string'?window.ASSET_BASE_URL:location.origin,own=[location.origin];try{own.push(new URL(base).origin)}catch(e){}" +
  "Object.defineProperty(p,'src',{configurable:true,enumerable:d.enumerable,get:d.get,set:function(v){try{if(this.crossOrigin===null&&own.indexOf(new URL(String(v),location.href).origin)>=0)this.crossOrigin='anonymous'}catch(e){}d.set.call(this,v)}})}catch(e){}})();</script>";

/** The CSP that runs a game in an opaque origin: published games (`/g/`) and the editor's preview (`/game/`). */
export const SANDBOX = 'sandbox allow-scripts allow-pointer-lock allow-popups allow-modals allow-orientation-lock allow-forms allow-downloads';
