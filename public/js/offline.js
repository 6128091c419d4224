// The offline page (served by the service worker when a page cannot be loaded): says so, and tries again.
import { h } from './lib/dom.js';
import { language } from './strings/catalogue.js';
import { t } from './strings/offline.js';

document.documentElement.lang = language();
const root = /** @type {HTMLElement} */ (document.getElementById('offline'));
root.append(
  h('div', { class: 'empty-art', 'aria-hidden': 'true' }, '📡'),
  h('h1', {}, t('title')),
  h('p', {}, t('message')),
  h('button', { type: 'button', class: 'primary', onclick: () => location.reload() }, t('retry')),
);
window.addEventListener('online', () => location.reload());
