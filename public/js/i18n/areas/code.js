// The game's code, to look at and to take away.
import { defineArea } from '../define.js';

export default defineArea({
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
  zh: {
    viewCode: '</> 查看代码',
    download: '⬇ 下载（zip）',
    title: '游戏的代码',
    readOnly: '仅供查看：想修改游戏，请在聊天里告诉 AI。',
    close: '关闭',
    failed: '无法加载代码。请稍后再试。',
    downloadFailed: '下载失败。请稍后再试。',
  },
  ko: {
    viewCode: '</> 코드 보기',
    download: '⬇ 다운로드 (zip)',
    title: '게임 코드',
    readOnly: '보기 전용입니다. 게임을 바꾸려면 채팅으로 요청하세요.',
    close: '닫기',
    failed: '코드를 불러오지 못했습니다. 잠시 후 다시 시도해 주세요.',
    downloadFailed: '다운로드하지 못했습니다. 잠시 후 다시 시도해 주세요.',
  },
  es: {
    viewCode: '</> Ver el código',
    download: '⬇ Descargar (zip)',
    title: 'El código del juego',
    readOnly: 'Solo lectura: para cambiar el juego, pídelo en el chat.',
    close: 'Cerrar',
    failed: 'No se pudo cargar el código. Inténtalo de nuevo en un momento.',
    downloadFailed: 'La descarga no funcionó. Inténtalo de nuevo en un momento.',
  },
  pt: {
    viewCode: '</> Ver o código',
    download: '⬇ Baixar (zip)',
    title: 'O código do jogo',
    readOnly: 'Somente leitura: para mudar o jogo, peça no chat.',
    close: 'Fechar',
    failed: 'Não foi possível carregar o código. Tente de novo em instantes.',
    downloadFailed: 'O download não funcionou. Tente de novo em instantes.',
  },
});
