// The app's words in the user's language: Japanese when the browser prefers it, English otherwise.
// The catalogue starts with what the chat says about sending; the rest of the UI still shows English with Japanese
// glosses until it moves here.

/** @typedef {'en' | 'ja'} Language */

const WORDS = {
  en: {
    'chat.sending': 'Sending…',
    'chat.waitingForConnection': 'Waiting for the connection…',
    'chat.queued': 'Not sent yet: it goes out as soon as the connection is back.',
    'chat.unsent': 'The connection dropped before your message reached the server. It is back in the message box: please send it again.',
    'chat.joinedRunning': 'A generation is already running for this game; showing it. Your message is back in the message box.',
    'chat.takeBack': 'Take back',
  },
  ja: {
    'chat.sending': '送信中…',
    'chat.waitingForConnection': '接続を待っています…',
    'chat.queued': 'まだ送信されていません。接続が戻りしだい送信します。',
    'chat.unsent': '接続が切れたため、メッセージがサーバーに届きませんでした。入力欄に戻したので、もう一度送信してください。',
    'chat.joinedRunning': 'このゲームはすでに生成中のため、その様子を表示しています。メッセージは入力欄に戻しました。',
    'chat.takeBack': '取り消す',
  },
};

/** @typedef {keyof typeof WORDS.en} WordKey */

/** @returns {Language} */
export function language() {
  const preferred = (navigator.languages?.[0] ?? navigator.language ?? 'en').toLowerCase();
  return preferred.startsWith('ja') ? 'ja' : 'en';
}

/**
 * The text for `key` in the user's language.
 * @param {WordKey} key
 * @returns {string}
 */
export function t(key) {
  return WORDS[language()][key] ?? WORDS.en[key];
}
