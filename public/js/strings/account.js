// The name people see on your games: chosen at sign-up, changed in settings.
import { catalogue } from './catalogue.js';

export const t = catalogue({
  en: {
    nameLabel: 'Your name',
    nameHint: 'Shown on the games you publish. You can change it later in Settings.',
    namePlaceholder: 'e.g. Mika',
    nameRequired: 'Choose the name to show on your games.',
    nameTooLong: 'At most 50 characters.',
    settings: 'Settings',
    settingsTitle: 'Settings',
    save: 'Save',
    cancel: 'Cancel',
    saved: 'Your name is saved.',
    saveFailed: 'Could not save: {message}',
    signOut: 'Sign out',
  },
  ja: {
    nameLabel: 'あなたの名前',
    nameHint: '公開したゲームに表示されます。あとから設定で変えられます。',
    namePlaceholder: '例：みか',
    nameRequired: 'ゲームに表示する名前を入力してください。',
    nameTooLong: '50文字以内で入力してください。',
    settings: '設定',
    settingsTitle: '設定',
    save: '保存',
    cancel: 'キャンセル',
    saved: '名前を保存しました。',
    saveFailed: '保存できませんでした：{message}',
    signOut: 'ログアウト',
  },
});

export const NAME_MAX = 50;

/**
 * A name suggested from an e-mail address: its local part, split into words at dots, dashes, underscores, plus
 * signs and digits, each word capitalised ("mika.tanaka+games@…" → "Mika Tanaka"). Empty when nothing is left.
 * @param {string} email
 * @returns {string}
 */
export function suggestName(email) {
  const local = String(email).split('@')[0] ?? '';
  const words = local
    .split(/[._\-+\d]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1));
  return [...words.join(' ')].slice(0, NAME_MAX).join('');
}
