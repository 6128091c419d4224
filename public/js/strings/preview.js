// The editor's live preview.
import { catalogue } from './catalogue.js';

export const t = catalogue({
  en: {
    frameTitle: 'Game preview',
    loading: 'Loading the game…',
    loaded: 'Your game is ready.',
    loadedWithErrors: 'Your game loaded, with {count} problems.',
    loadedWithError: 'Your game loaded, with 1 problem.',
    clickToPlay: 'Click the game to play with the keyboard.',
    tapToPlay: 'Tap the game to play.',
    playing: 'Playing: the keys go to the game. Click outside it to type again.',
    unavailable: 'The preview is not available right now ({message}).',
    open: 'Open ↗',
    openTitle: 'Open the game in a new tab',
    reload: '⟳ Reload',
    problems: 'Problems in the game',
    askAgent: 'Tell the agent about them in the chat to get them fixed.',
    atLine: '{message} (line {line})',
  },
  ja: {
    frameTitle: 'ゲームのプレビュー',
    loading: 'ゲームを読み込んでいます…',
    loaded: 'ゲームの準備ができました。',
    loadedWithErrors: 'ゲームを読み込みました（問題が{count}件あります）。',
    loadedWithError: 'ゲームを読み込みました（問題が1件あります）。',
    clickToPlay: 'ゲームをクリックするとキーボードで遊べます。',
    tapToPlay: 'ゲームをタップして遊べます。',
    playing: 'プレイ中：キー入力はゲームに届きます。文字を入力するときはゲームの外をクリックしてください。',
    unavailable: '今はプレビューを表示できません（{message}）。',
    open: '別タブで開く ↗',
    openTitle: 'ゲームを新しいタブで開く',
    reload: '⟳ 再読み込み',
    problems: 'ゲームの問題',
    askAgent: 'チャットでエージェントに伝えると直してもらえます。',
    atLine: '{message}（{line}行目）',
  },
});
