/**
 * The pages a person sees when a link does not work: a styled page in their language (the one they chose in the app,
 * else their browser's: server/src/language.ts) that says what happened and what to do, instead of V2's plain-text or JSON answers. Only a
 * browser navigating to the address (a tab, or a frame) gets one; scripts and fetches keep the JSON/text answers of
 * the contract.
 */
import type { Request, Response } from 'express';
import { escapeAttr } from './svg.js';
import { requestLanguageOf, type Language } from '../language.js';

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

/** The words of the error pages, in the six languages of the app's catalogue (public/js/i18n). */
const WORDS: Record<Language, Record<ErrorPageKind, PageWords> & { home: string; docTitle: string }> = {
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
  zh: {
    docTitle: 'DreamCore',
    home: '在 DreamCore 上制作你自己的游戏',
    'game-missing': {
      title: '找不到这个游戏',
      message: '作者可能已经取消了发布，或者链接不太对。',
      action: '在 DreamCore 上制作你自己的游戏',
    },
    'bad-game-link': {
      title: '这个链接不是游戏链接',
      message: '请确认链接已完整复制：它的样子是 …/play/g_ 后面跟着十个字母和数字。',
      action: '前往 DreamCore',
    },
    'play-on-page': {
      title: '请在游戏页面上玩',
      message: '这个游戏在它的游戏页面上打开，那里有标题和玩法说明。',
      action: '打开游戏页面',
    },
    'preview-expired': {
      title: '这个预览链接已过期',
      message: '预览链接只在几分钟内有效，这样别人就不能长时间使用它。',
      working: '正在为你的游戏获取新的链接…',
      fallback: '如果这是你的游戏，请在 DreamCore 中打开它来获取新的预览链接。否则，请向作者要一个新的链接。',
      action: '打开 DreamCore',
    },
    'preview-invalid': {
      title: '这个预览链接无法使用',
      message: '链接的一部分缺失或被更改了。请在 DreamCore 中打开游戏，获取新的预览链接。',
      action: '打开 DreamCore',
    },
    'page-missing': {
      title: '找不到页面',
      message: '这个地址上什么都没有。',
      action: '前往 DreamCore',
    },
  },
  ko: {
    docTitle: 'DreamCore',
    home: 'DreamCore에서 나만의 게임 만들기',
    'game-missing': {
      title: '이 게임을 찾을 수 없습니다',
      message: '만든 사람이 공개를 중단했거나 링크가 정확하지 않을 수 있습니다.',
      action: 'DreamCore에서 나만의 게임 만들기',
    },
    'bad-game-link': {
      title: '이 링크는 게임으로 연결되지 않습니다',
      message: '링크 전체가 복사되었는지 확인해 주세요. …/play/g_ 뒤에 영문자와 숫자 10개가 이어집니다.',
      action: 'DreamCore로 가기',
    },
    'play-on-page': {
      title: '이 게임은 게임 페이지에서 플레이하세요',
      message: '이 게임은 제목과 플레이 방법이 있는 게임 페이지에서 열립니다.',
      action: '게임 페이지 열기',
    },
    'preview-expired': {
      title: '이 미리보기 링크는 만료되었습니다',
      message: '미리보기 링크는 다른 사람이 오래 쓰지 못하도록 몇 분 동안만 유효합니다.',
      working: '게임의 새 링크를 가져오는 중…',
      fallback: '내 게임이라면 DreamCore에서 열어 새 미리보기 링크를 받으세요. 아니라면 만든 사람에게 새 링크를 요청하세요.',
      action: 'DreamCore 열기',
    },
    'preview-invalid': {
      title: '이 미리보기 링크는 사용할 수 없습니다',
      message: '링크의 일부가 빠졌거나 바뀌었습니다. DreamCore에서 게임을 열어 새 미리보기 링크를 받으세요.',
      action: 'DreamCore 열기',
    },
    'page-missing': {
      title: '페이지를 찾을 수 없습니다',
      message: '이 주소에는 아무것도 없습니다.',
      action: 'DreamCore로 가기',
    },
  },
  es: {
    docTitle: 'DreamCore',
    home: 'Crea tu propio juego en DreamCore',
    'game-missing': {
      title: 'Este juego no está aquí',
      message: 'Puede que su creador lo haya retirado, o que el enlace no sea del todo correcto.',
      action: 'Crea tu propio juego en DreamCore',
    },
    'bad-game-link': {
      title: 'Este enlace no lleva a un juego',
      message: 'Comprueba que se copió el enlace completo: tiene la forma …/play/g_ seguida de diez letras y números.',
      action: 'Ir a DreamCore',
    },
    'play-on-page': {
      title: 'Juega a este juego en su página',
      message: 'Este juego se abre en su página, con su título y cómo se juega.',
      action: 'Abrir la página del juego',
    },
    'preview-expired': {
      title: 'Este enlace de vista previa ha caducado',
      message: 'Los enlaces de vista previa funcionan unos minutos, para que nadie más pueda usarlos por mucho tiempo.',
      working: 'Obteniendo un enlace nuevo para tu juego…',
      fallback: 'Si es tu juego, ábrelo en DreamCore para obtener un enlace nuevo. Si no, pide un enlace nuevo a quien lo creó.',
      action: 'Abrir DreamCore',
    },
    'preview-invalid': {
      title: 'Este enlace de vista previa no funciona',
      message: 'Falta una parte del enlace o ha cambiado. Abre el juego en DreamCore para obtener un enlace nuevo.',
      action: 'Abrir DreamCore',
    },
    'page-missing': {
      title: 'Página no encontrada',
      message: 'No hay nada en esta dirección.',
      action: 'Ir a DreamCore',
    },
  },
  pt: {
    docTitle: 'DreamCore',
    home: 'Crie seu próprio jogo no DreamCore',
    'game-missing': {
      title: 'Este jogo não está aqui',
      message: 'Talvez quem o criou tenha tirado do ar, ou o link não esteja totalmente certo.',
      action: 'Crie seu próprio jogo no DreamCore',
    },
    'bad-game-link': {
      title: 'Este link não leva a um jogo',
      message: 'Confira se o link foi copiado por inteiro: ele tem a forma …/play/g_ seguida de dez letras e números.',
      action: 'Ir para o DreamCore',
    },
    'play-on-page': {
      title: 'Jogue este jogo na página dele',
      message: 'Este jogo abre na página dele, com o título e como jogar.',
      action: 'Abrir a página do jogo',
    },
    'preview-expired': {
      title: 'Este link de prévia expirou',
      message: 'Links de prévia funcionam por alguns minutos, para que ninguém mais possa usá-los por muito tempo.',
      working: 'Buscando um link novo para o seu jogo…',
      fallback: 'Se o jogo é seu, abra-o no DreamCore para ter um link de prévia novo. Se não, peça um link novo a quem o criou.',
      action: 'Abrir o DreamCore',
    },
    'preview-invalid': {
      title: 'Este link de prévia não funciona',
      message: 'Uma parte do link está faltando ou foi alterada. Abra o jogo no DreamCore para ter um link de prévia novo.',
      action: 'Abrir o DreamCore',
    },
    'page-missing': {
      title: 'Página não encontrada',
      message: 'Não há nada neste endereço.',
      action: 'Ir para o DreamCore',
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

/** The reader's language: chosen in the app (its cookie), else the first of `Accept-Language` the app speaks. */
export function pageLanguage(req: Pick<Request, 'get'>): Language {
  return requestLanguageOf({ cookie: req.get('cookie'), acceptLanguage: req.get('accept-language') });
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

export function errorPageHtml(kind: ErrorPageKind, lang: Language, options: ErrorPageOptions = {}): string {
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
  const lang = pageLanguage(req);
  res.setHeader('Content-Language', lang);
  res.type('text/html').send(errorPageHtml(kind, lang, options));
}
