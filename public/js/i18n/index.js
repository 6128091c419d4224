// The app's words in the user's language (docs/i18n.md): `t('area.key', vars)`, the language (the browser's by
// default, the switch's once chosen, remembered in localStorage and in a cookie the server reads), and dates, times
// and numbers in that language's format.
import { LANGUAGES } from './define.js';
import { AREAS } from './areas/index.js';

export { LANGUAGES };
/** @typedef {import('./define.js').Lang} Lang */
/** @typedef {import('./define.js').Text} Text */
/** @typedef {typeof AREAS} Areas */
/**
 * Every key of the catalogue: `area.key`.
 * @typedef {{ [A in keyof Areas & string]: `${A}.${keyof Areas[A]['en'] & string}` }[keyof Areas & string]} Key
 */
/** @typedef {Record<string, string | number>} Vars */

/** Each language in its own words, for the switch (the same in every language). */
export const LANGUAGE_NAMES = /** @type {Record<Lang, string>} */ ({
  ja: '日本語', // i18n-ignore: a language's own name
  en: 'English',
  zh: '简体中文', // i18n-ignore: a language's own name
  ko: '한국어', // i18n-ignore: a language's own name
  es: 'Español',
  pt: 'Português',
});

/** The locale Intl formats with (Portuguese as in Brazil, Chinese simplified). */
const LOCALES = /** @type {Record<Lang, string>} */ ({ ja: 'ja-JP', en: 'en', zh: 'zh-CN', ko: 'ko-KR', es: 'es', pt: 'pt-BR' });

export const STORAGE_KEY = 'dreamcore.language';
/** The cookie the server reads for its own pages and messages (server/src/http/language.ts). */
export const COOKIE = 'dreamcore_lang';

/** @param {unknown} value @returns {value is Lang} */
export function isLanguage(value) {
  return typeof value === 'string' && /** @type {readonly string[]} */ (LANGUAGES).includes(value);
}

/**
 * The first of the browser's languages the app speaks ("pt-BR" → pt, "zh-TW" → zh); English when none is.
 * @param {readonly string[]} preferred
 * @returns {Lang}
 */
export function detectLanguage(preferred) {
  for (const tag of preferred) {
    const base = String(tag).toLowerCase().split(/[-_]/)[0];
    if (isLanguage(base)) return base;
  }
  return 'en';
}

function browserLanguages() {
  return typeof navigator === 'undefined' ? [] : navigator.languages?.length ? navigator.languages : [navigator.language ?? 'en'];
}

/** @returns {Lang | null} */
function stored() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return isLanguage(value) ? value : null;
  } catch {
    return null; // storage blocked: the browser's language
  }
}

/** @type {Lang | null} */
let current = null;

/** The user's language: the one they chose, else the browser's. */
export function language() {
  current ??= stored() ?? detectLanguage(browserLanguages());
  return current;
}

export function locale() {
  return LOCALES[language()];
}

/**
 * Chooses the language: remembered (localStorage, and a cookie for the server's pages), `<html lang>` set, the static
 * HTML translated, and `languagechange` dispatched on window so the screens draw themselves again.
 * @param {Lang} lang
 */
export function setLanguage(lang) {
  if (!isLanguage(lang)) return;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* storage blocked: this page only */
  }
  document.cookie = `${COOKIE}=${lang}; path=/; max-age=${60 * 60 * 24 * 365}; samesite=lax`;
  const changed = lang !== current;
  current = lang;
  translatePage();
  if (changed) window.dispatchEvent(new Event('languagechange'));
}

/** @type {Map<string, Intl.PluralRules>} */
const pluralRules = new Map();

/**
 * @param {Text} text
 * @param {Lang} lang
 * @param {Vars} vars
 */
function pick(text, lang, vars) {
  if (typeof text === 'string') return text;
  const n = Number(vars.count);
  if (!pluralRules.has(lang)) pluralRules.set(lang, new Intl.PluralRules(LOCALES[lang]));
  const form = Number.isFinite(n) ? /** @type {Intl.PluralRules} */ (pluralRules.get(lang)).select(n) : 'other';
  return text[form] ?? text.other;
}

/**
 * A key's words in the user's language with `{name}` filled from `vars` (numbers in the language's format). A key
 * missing in the language falls back to English, an unknown one shows itself (visible in a screenshot).
 * @param {Key} key
 * @param {Vars} [vars]
 * @returns {string}
 */
export function t(key, vars = {}) {
  const lang = language();
  const dot = key.indexOf('.');
  /** @type {Record<string, Record<string, Text> | undefined> | undefined} */
  const area = /** @type {any} */ (AREAS)[key.slice(0, dot)];
  const name = key.slice(dot + 1);
  const text = area?.[lang]?.[name] ?? area?.en?.[name];
  if (text === undefined) return key;
  return pick(text, lang, vars).replace(/\{(\w+)\}/g, (whole, v) =>
    v in vars ? (typeof vars[v] === 'number' ? formatNumber(/** @type {number} */ (vars[v])) : String(vars[v])) : whole,
  );
}

/**
 * Whether `key` is in the catalogue (for keys made at run time, such as a progress step's).
 * @param {string} key
 * @returns {key is Key}
 */
export function hasKey(key) {
  const dot = key.indexOf('.');
  return Boolean(/** @type {any} */ (AREAS)[key.slice(0, dot)]?.en?.[key.slice(dot + 1)]);
}

/** @param {number} n @param {Intl.NumberFormatOptions} [options] */
export function formatNumber(n, options) {
  return new Intl.NumberFormat(locale(), options).format(n);
}

/** @param {string} iso */
function parse(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : new Date(ms);
}

/** A date and time ("2026年12月3日 14:05", "Dec 3, 2026, 2:05 PM"); empty for a bad date. @param {string} iso */
export function formatDate(iso) {
  const d = parse(iso);
  return d ? new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(d) : '';
}

/** A day ("2026/12/03", "Dec 3, 2026"). @param {string} iso */
export function formatDay(iso) {
  const d = parse(iso);
  return d ? new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(d) : '';
}

/** The time of day ("14:05", "2:05 PM"). @param {string} iso */
export function formatTime(iso) {
  const d = parse(iso);
  return d ? new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit' }).format(d) : '';
}

/**
 * How long ago ("3分前", "3 minutes ago"); the day itself after a week.
 * @param {string} iso
 * @param {number} [now]
 */
export function timeAgo(iso, now = Date.now()) {
  const d = parse(iso);
  if (!d) return '';
  const s = Math.round((now - d.getTime()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  if (s < 45) return t('common.justNow');
  if (s < 3600) return rtf.format(-Math.max(1, Math.round(s / 60)), 'minute');
  if (s < 86400) return rtf.format(-Math.round(s / 3600), 'hour');
  if (s < 7 * 86400) return rtf.format(-Math.round(s / 86400), 'day');
  return formatDay(iso);
}

/**
 * The static HTML's words: an element with `data-i18n="area.key"` gets the text, `data-i18n-title`,
 * `data-i18n-placeholder`, `data-i18n-aria-label`, `data-i18n-content` (a <meta>) the attribute. `<html lang>` follows.
 * @param {ParentNode} [root]
 */
export function translatePage(root = document) {
  if (typeof document === 'undefined') return;
  document.documentElement.lang = language();
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(/** @type {Key} */ (el.getAttribute('data-i18n')));
  for (const attr of ['title', 'placeholder', 'aria-label', 'content']) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(/** @type {Key} */ (el.getAttribute(`data-i18n-${attr}`))));
  }
}
