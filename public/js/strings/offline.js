// The page the app shows when there is no connection (PWA; moves into the app-wide catalogue).
import { catalogue } from './catalogue.js';

export const t = catalogue({
  en: {
    title: 'You are offline',
    message: 'DreamCore needs the internet to make and play games. Your games are safe on the server.',
    retry: 'Try again',
  },
  ja: {
    title: 'オフラインです',
    message: 'DreamCore でゲームを作ったり遊んだりするにはインターネット接続が必要です。作ったゲームはサーバーに保存されています。',
    retry: 'もう一度試す',
  },
});
