/**
 * The pages a person sees when a link does not work: a styled page in their language (Japanese or English, from
 * `Accept-Language`) that says what happened and what to do, instead of V2's plain-text or JSON answers. Only a
 * browser navigating to the address (a tab, or a frame) gets one; scripts and fetches keep the JSON/text answers of
 * the contract.
 */
import type { Request, Response } from 'express';
import { escapeAttr } from './svg.js';

export type PageLanguage = 'en' | 'ja';

export type ErrorPageKind = 'game-missing' | 'bad-game-link' | 'play-on-page' | 'preview-expired' | 'preview-invalid' | 'page-missing';

interface PageWords {
  title: string;
  message: string;
  /** Shown by the page's script while it fetches a fresh link for the owner (preview-expired). */
  working?: string;
  /** Shown when no fresh link can be had (not signed in, or not the owner). */
  fallback?: string;
  action: string;
}

/** The words of the error pages; one module, so they can move into the app's catalogue as they are. */
const WORDS: Record<PageLanguage, Record<ErrorPageKind, PageWords> & { home: string; docTitle: string }> = {
  en: {
    docTitle: 'DreamCore',
    home: 'Make your own game on DreamCore',
    'game-missing': {
      title: 'This game is not here',
      message: 'Its creator may have taken it down, or the link is not quite right.',
      action: 'Make your own game on DreamCore',
    },
    'bad-game-link': {
      title: 'This link does not lead to a game',
      message: 'Check that the whole link was copied: it looks like …/play/g_ followed by ten letters and numbers.',
      action: 'Go to DreamCore',
    },
    'play-on-page': {
      title: 'Play this game on its page',
      message: 'This game opens on its play page, with its title and how to play.',
      action: 'Open the play page',
    },
    'preview-expired': {
      title: 'This preview link has expired',
      message: 'Preview links work for a few minutes, so that nobody else can use them for long.',
      working: 'Getting a fresh link for your game…',
      fallback: 'If this is your game, open it in DreamCore to get a new preview link. Otherwise, ask its creator for a new link.',
      action: 'Open DreamCore',
    },
    'preview-invalid': {
      title: 'This preview link does not work',
      message: 'Part of the link is missing or changed. Open the game in DreamCore to get a new preview link.',
      action: 'Open DreamCore',
    },
    'page-missing': {
      title: 'Page not found',
      message: 'There is nothing at this address.',
      action: 'Go to DreamCore',
    },
  },
  ja: {
    docTitle: 'DreamCore',
    home: 'DreamCore で自分のゲームを作る',
    'game-missing': {
      title: 'このゲームは見つかりませんでした',
      message: '作者が公開をやめたか、リンクが正しくない可能性があります。',
      action: 'DreamCore で自分のゲームを作る',
    },
    'bad-game-link': {
      title: 'このリンクはゲームにつながっていません',
      message: 'リンクが最後までコピーされているか確認してください（…/play/g_ のあとに英数字が10文字続きます）。',
      action: 'DreamCore へ',
    },
    'play-on-page': {
      title: 'このゲームはプレイページで遊べます',
      message: 'タイトルや遊び方と一緒に、プレイページで開きます。',
      action: 'プレイページを開く',
    },
    'preview-expired': {
      title: 'このプレビューリンクは期限切れです',
      message: 'プレビューリンクは、ほかの人が長く使えないように数分間だけ有効です。',
      working: 'あなたのゲームの新しいリンクを取得しています…',
      fallback: 'ご自分のゲームなら、DreamCore で開くと新しいプレビューリンクが使えます。そうでなければ、作者に新しいリンクを頼んでください。',
      action: 'DreamCore を開く',
    },
    'preview-invalid': {
      title: 'このプレビューリンクは使えません',
      message: 'リンクの一部が欠けているか変わっています。DreamCore でゲームを開いて、新しいプレビューリンクを使ってください。',
      action: 'DreamCore を開く',
    },
    'page-missing': {
      title: 'ページが見つかりません',
      message: 'このアドレスには何もありません。',
      action: 'DreamCore へ',
    },
  },
};

const ICONS: Record<ErrorPageKind, string> = {
  'game-missing': '🕹️',
  'bad-game-link': '🔗',
  'play-on-page': '▶️',
  'preview-expired': '⏳',
  'preview-invalid': '🔗',
  'page-missing': '🧭',
};

/** The reader's language from `Accept-Language`: the first of Japanese or English they list, by preference. */
export function pageLanguage(header: string | undefined): PageLanguage {
  const ranked = (header ?? '')
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag, q: q === undefined ? 1 : Number(q), index };
    })
    .filter((entry) => entry.tag !== '' && entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { tag } of ranked) {
    if (tag === 'ja' || tag.startsWith('ja-')) return 'ja';
    if (tag === 'en' || tag.startsWith('en-')) return 'en';
  }
  return 'en';
}

/** A browser showing the address to a person (a tab or a frame), not a script fetching it. */
export function wantsPage(req: Pick<Request, 'get'>): boolean {
  const dest = req.get('sec-fetch-dest');
  if (dest) return dest === 'document' || dest === 'iframe' || dest === 'frame';
  return (req.get('accept') ?? '').includes('text/html');
}

export interface ErrorPageOptions {
  /** Where the main button goes (default `/`). */
  actionHref?: string;
}

export function errorPageHtml(kind: ErrorPageKind, lang: PageLanguage, options: ErrorPageOptions = {}): string {
  const words = WORDS[lang];
  const page = words[kind];
  const href = escapeAttr(options.actionHref ?? '/');
  const expired = kind === 'preview-expired';
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="robots" content="noindex">
<title>${escapeAttr(page.title)} · ${words.docTitle}</title>
<link rel="stylesheet" href="/css/app.css">
</head>
<body class="error-page-body">
<main class="error-page" data-kind="${kind}" data-testid="error-page">
<div class="card error-card">
<div class="denied-icon" aria-hidden="true">${ICONS[kind]}</div>
<h1>${escapeAttr(page.title)}</h1>
<p>${escapeAttr(page.message)}</p>
${expired ? `<p class="muted" data-role="working" hidden>${escapeAttr(page.working!)}</p>\n<p class="muted" data-role="fallback">${escapeAttr(page.fallback!)}</p>` : ''}
<a class="button primary" href="${href}" data-role="action">${escapeAttr(page.action)}</a>
</div>
<a class="brand error-brand" href="/"><span class="logo" aria-hidden="true">◆</span> <span class="brand-name">DreamCore</span></a>
</main>
${expired ? '<script type="module" src="/js/preview-expired.js"></script>' : ''}
</body>
</html>
`;
}

/** Sends the page with `status` (no caching: the link may work again, or the game come back). */
export function sendErrorPage(req: Request, res: Response, status: number, kind: ErrorPageKind, options: ErrorPageOptions = {}): void {
  res.status(status);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Language', pageLanguage(req.get('accept-language')));
  res.type('text/html').send(errorPageHtml(kind, pageLanguage(req.get('accept-language')), options));
}
