/**
 * Publish info from the model: the request a run gets (read the game, write its public page's title, description,
 * how to play and tags in the user's language, answer with one JSON object, change nothing) and the reading of the
 * answer. Shared by the server (both backends run it as an ordinary agent run) and the demo model, which recognises
 * the request by its first line.
 */
import { createError } from '../errors.js';

/** The first line of every publish-info request (the demo model answers it with its scripted info). */
export const PUBLISH_INFO_REQUEST = 'DreamCore publish info request.';

export const PUBLISH_INFO_LANGUAGES = {
  ja: 'Japanese (日本語)',
  en: 'English',
  zh: 'Simplified Chinese (简体中文)',
  ko: 'Korean (한국어)',
  es: 'Spanish (Español)',
  pt: 'Portuguese (Português)',
} as const;
export type PublishInfoLanguage = keyof typeof PUBLISH_INFO_LANGUAGES;

export const PUBLISH_INFO_LIMITS = { title: 50, description: 300, howToPlay: 300, tags: 5, tag: 20 } as const;

export interface PublishInfo {
  title: string;
  description: string;
  howToPlay: string;
  tags: string[];
}

export function isPublishInfoLanguage(value: unknown): value is PublishInfoLanguage {
  return typeof value === 'string' && Object.hasOwn(PUBLISH_INFO_LANGUAGES, value);
}

export function publishInfoPrompt(language: PublishInfoLanguage): string {
  const L = PUBLISH_INFO_LIMITS;
  return [
    PUBLISH_INFO_REQUEST,
    `Read this game's SPEC.md (if there is one) and index.html, then write what players will see on its public page, in ${PUBLISH_INFO_LANGUAGES[language]}:`,
    `- title: the game's name, at most ${L.title} characters`,
    `- description: one or two sentences for players (not programmers): what the game is and why it is fun, at most ${L.description} characters`,
    `- howToPlay: the controls on a keyboard and on a phone, at most ${L.howToPlay} characters`,
    `- tags: 3 to ${L.tags} short tags (one or two words each, at most ${L.tag} characters, no #)`,
    `language: ${language}`,
    'Do not create, change or delete any file. Answer with only this JSON object and nothing else:',
    '{"title": "…", "description": "…", "howToPlay": "…", "tags": ["…"]}',
  ].join('\n');
}

/** Whitespace collapsed, trimmed, cut at `max` characters (code points, so a kanji counts as one). */
const clip = (value: unknown, max: number) => (typeof value === 'string' ? [...value.replace(/\s+/g, ' ').trim()].slice(0, max).join('') : '');

/**
 * The info in the model's answer: the first JSON object in it (models sometimes wrap it in a code fence or a sentence),
 * trimmed to the limits. INVALID_ARGUMENT when there is none or it lacks a title.
 */
export function parsePublishInfo(text: string): PublishInfo {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start)
    throw createError('INVALID_ARGUMENT', 'the model did not answer with the publish info', { details: { raw: text.slice(0, 500) } });
  let value: unknown;
  try {
    value = JSON.parse(text.slice(start, end + 1));
  } catch {
    throw createError('INVALID_ARGUMENT', 'the model did not answer with valid JSON', { details: { raw: text.slice(0, 500) } });
  }
  const answer = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const L = PUBLISH_INFO_LIMITS;
  const title = clip(answer.title, L.title);
  if (title === '') throw createError('INVALID_ARGUMENT', "the model's publish info has no title", { details: { raw: text.slice(0, 500) } });
  const tags = Array.isArray(answer.tags) ? answer.tags.map((tag) => clip(typeof tag === 'string' ? tag.replace(/^#+/, '') : '', L.tag)).filter(Boolean) : [];
  return {
    title,
    description: clip(answer.description, L.description),
    howToPlay: clip(answer.howToPlay, L.howToPlay),
    tags: [...new Set(tags)].slice(0, L.tags),
  };
}
