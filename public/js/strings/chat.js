// The chat's words about sending a message (the outbox: waiting for the connection, handed back, taken back).
import { catalogue } from './catalogue.js';

export const t = catalogue({
  en: {
    sending: 'Sending…',
    waitingForConnection: 'Waiting for the connection…',
    queued: 'Not sent yet: it goes out as soon as the connection is back.',
    unsent: 'The connection dropped before your message reached the server. It is back in the message box: please send it again.',
    joinedRunning: 'A generation is already running for this game; showing it. Your message is back in the message box.',
    takeBack: 'Take back',
    emptyMessage: 'Write what you would like first, or pick one of the ideas above.',
    tooLong: 'This message is too long: {count} characters, and the limit is {max}. Shorten it (nothing was sent).',
    characters: '{count} / {max}',
    showMore: 'Show all',
    showLess: 'Show less',
  },
  ja: {
    sending: '送信中…',
    waitingForConnection: '接続を待っています…',
    queued: 'まだ送信されていません。接続が戻りしだい送信します。',
    unsent: '接続が切れたため、メッセージがサーバーに届きませんでした。入力欄に戻したので、もう一度送信してください。',
    joinedRunning: 'このゲームはすでに生成中のため、その様子を表示しています。メッセージは入力欄に戻しました。',
    takeBack: '取り消す',
    emptyMessage: 'まず作りたいものを書いてください。上のアイデアから選ぶこともできます。',
    tooLong: 'メッセージが長すぎます（{count}文字・上限{max}文字）。短くしてください（送信していません）。',
    characters: '{count} / {max}',
    showMore: 'すべて表示',
    showLess: '折りたたむ',
  },
});
