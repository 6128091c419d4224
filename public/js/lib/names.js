// The name people see on your games: chosen at sign-up, changed in settings.

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
