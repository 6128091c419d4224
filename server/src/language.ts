/**
 * The user's language on the server: the six the app speaks (public/js/i18n), the one a request asks for (the app's
 * `dreamcore_lang` cookie, set by its language switch, else `Accept-Language`), and the note that tells the agent
 * which one to answer in.
 */
export const LANGUAGES = ['ja', 'en', 'zh', 'ko', 'es', 'pt'] as const;
export type Language = (typeof LANGUAGES)[number];

/** The cookie the app's language switch sets (public/js/i18n/index.js COOKIE). */
export const LANGUAGE_COOKIE = 'dreamcore_lang';

/** Each language's name for the agent (in English, so the note itself has no Japanese for a language detector). */
const NAMES: Record<Language, string> = {
  ja: 'Japanese',
  en: 'English',
  zh: 'Simplified Chinese',
  ko: 'Korean',
  es: 'Spanish',
  pt: 'Portuguese (Brazil)',
};

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

/** The languages of an `Accept-Language` header that the app speaks, by preference ("pt-BR" → pt). */
function accepted(header: string | undefined): Language[] {
  return (header ?? '')
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { base: tag.split('-')[0] ?? '', q: q === undefined ? 1 : Number(q), index };
    })
    .filter((entry) => entry.base !== '' && entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map((entry) => entry.base)
    .filter(isLanguage);
}

/** The value of the language cookie in a `Cookie` header, when it names a language. */
function cookieLanguage(header: string | undefined): Language | null {
  for (const part of (header ?? '').split(';')) {
    const [name, value] = part.trim().split('=');
    if (name === LANGUAGE_COOKIE && isLanguage(value)) return value;
  }
  return null;
}

/** The reader's language: the one they chose in the app, else the first of their browser's the app speaks, else English. */
export function requestLanguageOf(headers: { cookie?: string; acceptLanguage?: string }): Language {
  return cookieLanguage(headers.cookie) ?? accepted(headers.acceptLanguage)[0] ?? 'en';
}

/**
 * The note after a request that tells the agent the user's language. It goes after a `---` line, as the style
 * guideline does, so it is not part of the request itself (the version's name, the demo model's reading of it).
 */
export function withLanguage(prompt: string, language: Language | undefined): string {
  if (!language) return prompt;
  const name = NAMES[language];
  return `${prompt}\n\n---\nThe user's language is ${name} (the app speaks ${name} to them). Answer, name the game and suggest next steps in the language of their message; when that is unclear (a very short or mixed message), in ${name}.`;
}
