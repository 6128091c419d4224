// Help with publishing: the words written by the AI, the picture of the game, and the share sheet (issue 17; these
// move into the app-wide catalogue with the rest).
import { catalogue } from './catalogue.js';

export const t = catalogue({
  en: {
    writeForMe: '✨ Write the title and description for me',
    writing: 'Writing…',
    written: 'Written for you. Change anything you like before publishing.',
    writeFailed: 'The AI could not write it this time. Try again, or write it yourself.',
    tooMany: 'Too many requests just now. Wait a minute and try again.',
    takePicture: '📷 Take a picture of the game',
    takingPicture: 'Taking a picture…',
    pictureTaken: 'The picture of your game is the thumbnail now.',
    pictureFailed: 'No picture could be taken: the game shows nothing yet.',
    autoPicture: 'Taking a picture of your game for its thumbnail…',
    shareTitle: 'Share',
    share: 'Share…',
    qrAlt: 'QR code of the game’s link',
    qrHint: 'Scan to play on a phone',
    shareText: 'Play my game “{title}” on DreamCore!',
  },
  ja: {
    writeForMe: '✨ タイトルと説明をAIにおまかせ',
    writing: '作成中…',
    written: 'AIが書きました。公開する前に自由に書き直せます。',
    writeFailed: '今回はAIが書けませんでした。もう一度試すか、ご自分で書いてください。',
    tooMany: 'リクエストが多すぎます。1分ほど待ってからお試しください。',
    takePicture: '📷 ゲームの画面を撮る',
    takingPicture: '撮影中…',
    pictureTaken: 'ゲームの画面をサムネイルにしました。',
    pictureFailed: 'ゲームにまだ何も表示されていないため、撮影できませんでした。',
    autoPicture: 'サムネイル用にゲームの画面を撮影しています…',
    shareTitle: 'シェア',
    share: 'シェアする…',
    qrAlt: 'ゲームのリンクのQRコード',
    qrHint: 'スマホで読み取って遊べます',
    shareText: 'DreamCore でつくったゲーム「{title}」で遊んでみてね！',
  },
});
