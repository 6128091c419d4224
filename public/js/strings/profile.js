// A person's page: their name, picture and published games (issue 17; moves into the app-wide catalogue).
import { catalogue } from './catalogue.js';

export const t = catalogue({
  en: {
    loading: 'Loading…',
    missing: 'There is nobody here.',
    missingHint: 'The link may not be quite right, or the account is gone.',
    games: 'Games',
    noGames: 'No published games yet.',
    play: 'Play',
    myGames: 'My games',
    myPage: 'My page',
    since: 'Making games since {date}',
    failed: 'This page could not be loaded. Try again in a moment.',
  },
  ja: {
    loading: '読み込み中…',
    missing: 'このページは見つかりませんでした。',
    missingHint: 'リンクが正しくないか、アカウントが削除された可能性があります。',
    games: 'ゲーム',
    noGames: '公開されたゲームはまだありません。',
    play: 'あそぶ',
    myGames: 'マイゲーム',
    myPage: 'マイページ',
    since: '{date} からゲームを作っています',
    failed: 'ページを読み込めませんでした。少ししてからもう一度お試しください。',
  },
});
