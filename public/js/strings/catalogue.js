// The words of one screen, in the user's language (Japanese when the browser prefers it, English otherwise).
//
// Each screen keeps its words in one module here (`publish.js`, `preview.js`, …) as `{ en: {…}, ja: {…} }`, so they
// can move into the app-wide catalogue (issue 17) as they are. `{name}` in a text is filled from `vars`.

/** @returns {'en' | 'ja'} */
export function language() {
  const preferred = (navigator.languages?.[0] ?? navigator.language ?? 'en').toLowerCase();
  return preferred.startsWith('ja') ? 'ja' : 'en';
}

/**
 * A lookup for one screen's words: `t('key', { count: 3 })`. A key missing in the user's language falls back to
 * English, a missing key to itself (visible in a screenshot rather than an empty label).
 * @template {Record<string, string>} W
 * @param {{ en: W, ja: Partial<Record<keyof W, string>> }} words
 * @returns {(key: keyof W & string, vars?: Record<string, string | number>) => string}
 */
export function catalogue(words) {
  return (key, vars = {}) => {
    const text = words[language()]?.[key] ?? words.en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
  };
}
