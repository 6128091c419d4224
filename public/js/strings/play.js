// The public play page, /play/:gameId.
import { catalogue } from './catalogue.js';

export const t = catalogue({
  en: {
    missingTitle: 'This game is not here',
    notALink: 'This link does not lead to a game. Check that the whole link was copied.',
    notPublished: 'Its creator may have taken it down, or the link is not quite right.',
    couldNotLoad: 'The game could not be loaded right now. Please try again in a moment.',
    makeYourOwn: 'Make your own game on DreamCore',
    makeOwnShort: 'Make your own',
    fullscreen: 'Fullscreen',
    by: 'by {name}',
    plays: '{count} plays',
    onePlay: '1 play',
    published: 'published {date}',
    about: 'About',
    howToPlay: 'How to play',
  },
  ja: {
    missingTitle: 'このゲームは見つかりませんでした',
    notALink: 'このリンクはゲームにつながっていません。リンクが最後までコピーされているか確認してください。',
    notPublished: '作者が公開をやめたか、リンクが正しくない可能性があります。',
    couldNotLoad: 'いまゲームを読み込めませんでした。少し待ってからもう一度お試しください。',
    makeYourOwn: 'DreamCore で自分のゲームを作る',
    makeOwnShort: '自分でも作る',
    fullscreen: '全画面',
    by: '作者：{name}',
    plays: '{count}回プレイ',
    onePlay: '1回プレイ',
    published: '{date} 公開',
    about: 'ゲームについて',
    howToPlay: '遊び方',
  },
});
