// The page the installed app shows when there is no connection (served by the service worker).
import { defineArea } from '../define.js';

export default defineArea({
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
  zh: {
    title: '你已离线',
    message: '在 DreamCore 制作和玩游戏需要联网。你的游戏安全地保存在服务器上。',
    retry: '重试',
  },
  ko: {
    title: '오프라인 상태입니다',
    message: 'DreamCore에서 게임을 만들고 플레이하려면 인터넷이 필요합니다. 만든 게임은 서버에 안전하게 저장되어 있어요.',
    retry: '다시 시도',
  },
  es: {
    title: 'Sin conexión',
    message: 'DreamCore necesita internet para crear y jugar juegos. Tus juegos están a salvo en el servidor.',
    retry: 'Reintentar',
  },
  pt: {
    title: 'Você está offline',
    message: 'O DreamCore precisa de internet para criar e jogar. Seus jogos estão seguros no servidor.',
    retry: 'Tentar de novo',
  },
});
