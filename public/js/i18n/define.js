// The shape of one area of the catalogue (see docs/i18n.md). Kept apart from index.js, which imports every area.

/** The languages of the app, in the order the switch lists them. */
export const LANGUAGES = /** @type {const} */ (['ja', 'en', 'zh', 'ko', 'es', 'pt']);

/** @typedef {(typeof LANGUAGES)[number]} Lang */

/**
 * A text: a string with `{name}` placeholders, or its plural forms (Intl.PluralRules categories; `other` is required,
 * and the form is chosen by the `count` variable).
 * @typedef {string | { zero?: string, one?: string, two?: string, few?: string, many?: string, other: string }} Text
 */

/**
 * One area's words in every language: English names the keys, and every other language has every one of them
 * (the type checker refuses a missing key; server/test/i18n.test.ts checks that the placeholders match).
 * @template {Record<string, Text>} W
 * @param {{ en: W } & { [L in Exclude<Lang, 'en'>]: Record<keyof W, Text> }} words
 */
export function defineArea(words) {
  return words;
}
