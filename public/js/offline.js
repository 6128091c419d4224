// The offline page (served by the service worker when a page cannot be loaded): says so, and tries again.
import { h } from './lib/dom.js';
import { t, translatePage } from './i18n/index.js';

translatePage();
const root = /** @type {HTMLElement} */ (document.getElementById('offline'));
root.append(
  h('div', { class: 'empty-art', 'aria-hidden': 'true' }, '📡'),
  h('h1', {}, t('offline.title')),
  h('p', {}, t('offline.message')),
  h('button', { type: 'button', class: 'primary', onclick: () => location.reload() }, t('offline.retry')),
);
window.addEventListener('online', () => location.reload());
