// The game's code, to look at and to take away (issue 17; moves into the app-wide catalogue).
import { catalogue } from './catalogue.js';

export const t = catalogue({
  en: {
    viewCode: '</> View code',
    download: '⬇ Download (zip)',
    title: 'The game’s code',
    readOnly: 'Read only: to change the game, ask in the chat.',
    close: 'Close',
    failed: 'The code could not be loaded. Try again in a moment.',
    downloadFailed: 'The download did not work. Try again in a moment.',
  },
  ja: {
    viewCode: '</> コードを見る',
    download: '⬇ ダウンロード（zip）',
    title: 'ゲームのコード',
    readOnly: '表示のみです。ゲームを変えたいときはチャットで頼んでください。',
    close: '閉じる',
    failed: 'コードを読み込めませんでした。少ししてからもう一度お試しください。',
    downloadFailed: 'ダウンロードできませんでした。少ししてからもう一度お試しください。',
  },
});
