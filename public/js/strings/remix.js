// Remix on the game page: making your own version of someone's game, and where games came from (issue 17; moves
// into the app-wide catalogue).
import { catalogue } from './catalogue.js';

export const t = catalogue({
  en: {
    remix: '🔀 Remix this game',
    remixHint: 'Make your own version: the game is copied into a new project of yours.',
    remixing: 'Making your copy…',
    signInToRemix: 'Sign in to remix',
    remixFailed: 'The remix did not work: {message}',
    remixLimit: 'You have made as many new games as you can today. Try again tomorrow.',
    remixedFrom: 'Remixed from {title}',
    remixedFromBy: 'Remixed from {title} by {name}',
    remixedFromHidden: 'Remixed from a game that is no longer public',
    remixes: 'Remixes ({count})',
    by: 'by {name}',
  },
  ja: {
    remix: '🔀 このゲームをリミックス',
    remixHint: '自分のバージョンを作れます。ゲームがあなたの新しいプロジェクトにコピーされます。',
    remixing: 'コピーを作成中…',
    signInToRemix: 'ログインしてリミックス',
    remixFailed: 'リミックスできませんでした：{message}',
    remixLimit: '今日作れるゲームの数の上限に達しました。明日またお試しください。',
    remixedFrom: '「{title}」のリミックス',
    remixedFromBy: '{name} さんの「{title}」のリミックス',
    remixedFromHidden: '公開が終了したゲームのリミックス',
    remixes: 'リミックス（{count}）',
    by: '{name} さん',
  },
});
