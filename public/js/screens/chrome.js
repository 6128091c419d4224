// Pieces every signed-in screen shares: the top bar, the connection indicator, the account menu.
import { h } from '../lib/dom.js';

/** @type {Record<import('../lib/socket.js').SocketState, string>} */
const STATE_LABELS = { ready: 'Connected', connecting: 'Connecting…', offline: 'Reconnecting…', idle: 'Offline', stopped: 'Offline' };

/**
 * A dot + label that follows the socket's state. Returns {el, dispose}.
 * @param {import('../lib/socket.js').Socket} socket
 */
export function connectionBadge(socket) {
  const label = h('span', { class: 'conn-label' });
  const el = h(
    'span',
    { class: 'conn-status', role: 'status', title: 'Connection to the server' },
    h('span', { class: 'conn-dot', 'aria-hidden': 'true' }),
    label,
  );
  const update = () => {
    el.dataset.state = socket.state;
    label.textContent = STATE_LABELS[socket.state] ?? socket.state;
  };
  update();
  const off = socket.on('state', update);
  return { el, dispose: off };
}

/** @param {import('../main.js').App} app */
export function accountMenu(app) {
  const email = app.auth.user?.email ?? '';
  return h(
    'div',
    { class: 'account' },
    h('span', { class: 'account-email', title: email }, email),
    h('button', { type: 'button', class: 'ghost small', dataset: { testid: 'sign-out' }, onclick: () => app.auth.signOut() }, 'Sign out'),
  );
}

export function brand() {
  return h('a', { class: 'brand', href: '#/' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), h('span', { class: 'brand-name' }, 'DreamCore'));
}

/**
 * Shows a structured or plain server error as text.
 * @param {{ message?: string, error?: any, [field: string]: unknown } | null | undefined} message
 */
export function errorText(message) {
  if (message?.error && typeof message.error === 'object') {
    const e = message.error;
    if (e.code === 'DAILY_PROJECT_LIMIT_EXCEEDED' || e.code === 'DAILY_MESSAGE_LIMIT_EXCEEDED') {
      const reset = e.resetAt ? ` It resets at ${new Date(e.resetAt).toLocaleString()}.` : '';
      return `${e.message} (daily limit ${e.limit ?? ''}).${reset}`;
    }
    return e.message || e.code || 'Something went wrong';
  }
  return message?.message || 'Something went wrong';
}
