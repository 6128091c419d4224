// Small DOM helpers: element creation (text only, never innerHTML with data), toasts and modal dialogs.
import { t } from '../i18n/index.js';

export { timeAgo, formatDate } from '../i18n/index.js';

/**
 * A child of `h`: text, a node, a list of children, or nothing (null, undefined, false are skipped).
 * @typedef {string | number | Node | null | undefined | false | ChildList} Child
 * @typedef {Array<Child>} ChildList
 */

/**
 * Attributes of `h`: `class`, `dataset` (an object), `style` (an object or text), `on…` listeners, the properties
 * value/checked/disabled/selected, and any other attribute (true → present, false/null/undefined → left out).
 * @typedef {Record<string, any>} Attrs
 */

/**
 * h('button', { class: 'primary', onclick: fn, dataset: { id } }, 'Label', child, ...)
 * Attribute values of false/null/undefined are skipped; children may be strings, nodes, arrays or null.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') /** @type {any} */ (el)[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/**
 * @template {Element} E
 * @param {E} el
 * @returns {E}
 */
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/**
 * @param {string} selector
 * @param {ParentNode} [root]
 */
export function $(selector, root = document) {
  return root.querySelector(selector);
}

// ---------------------------------------------------------------- toasts

/**
 * @param {Child} message
 * @param {'info' | 'error' | 'success'} [kind]
 * @param {number} [ms] how long it stays
 */
export function toast(message, kind = 'info', ms = 4000) {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const toasts = box;
  const item = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  toasts.append(item);
  setTimeout(() => {
    item.classList.add('leaving');
    setTimeout(() => item.remove(), 300);
  }, ms);
  return item;
}

// ---------------------------------------------------------------- dialogs

/**
 * A button of a dialog: `value` (or what calling it returns) is what the dialog resolves with. A `keepOpen` button
 * runs `onclick` instead and leaves closing to it (`dialog.closeDialog(value)`), e.g. once a save has succeeded.
 * @typedef {{ label: string, id?: string, class?: string, value?: unknown, keepOpen?: boolean, onclick?: () => unknown }} DialogAction
 */

/**
 * A modal <dialog>; resolves with the value passed to close(), or null when dismissed.
 * @param {{ title: string, body: Child, actions: DialogAction[], className?: string }} options
 * @returns {Promise<any>}
 */
export function openDialog({ title, body, actions, className = '' }) {
  return new Promise((resolve) => {
    let settled = false;
    /** @type {HTMLDialogElement & { closeDialog?: (value: unknown) => void }} */
    const dialog = h('dialog', { class: `modal ${className}`.trim() });
    /** @param {unknown} value */
    const close = (value) => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    const footer = h('div', { class: 'modal-actions' });
    for (const action of actions) {
      footer.append(
        h(
          'button',
          {
            type: 'button',
            class: action.class ?? '',
            dataset: { action: action.id ?? '' },
            // `keepOpen` actions run their `onclick` and leave closing to it (dialog.closeDialog), e.g. after a save.
            onclick: () =>
              action.keepOpen
                ? action.onclick?.()
                : close(action.value === undefined ? null : typeof action.value === 'function' ? action.value() : action.value),
          },
          action.label,
        ),
      );
    }
    dialog.append(
      h(
        'div',
        { class: 'modal-head' },
        h('h2', {}, title),
        h('button', { type: 'button', class: 'icon-button modal-x', 'aria-label': t('common.close'), onclick: () => close(null) }, '×'),
      ),
      h('div', { class: 'modal-body' }, body),
      footer,
    );
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      close(null);
    });
    dialog.addEventListener('click', (e) => {
      if (e.target === dialog) close(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    dialog.closeDialog = close;
    /** @type {HTMLElement | null} */
    const focus = dialog.querySelector('input, textarea, .modal-actions button:last-child');
    focus?.focus();
  });
}

/**
 * Yes/no. Resolves true only on confirm.
 * @param {{ title: string, message: Child, confirmLabel?: string, cancelLabel?: string, danger?: boolean }} options
 */
export async function confirmDialog({ title, message, confirmLabel = t('common.ok'), cancelLabel = t('common.cancel'), danger = false }) {
  const result = await openDialog({
    title,
    className: 'confirm-dialog',
    body: h('p', {}, message),
    actions: [
      { label: cancelLabel, id: 'cancel', class: 'ghost', value: false },
      { label: confirmLabel, id: 'confirm', class: danger ? 'danger' : 'primary', value: true },
    ],
  });
  return result === true;
}

/**
 * One text field. Resolves the trimmed text, or null when cancelled/empty.
 * @param {{ title: string, label: string, value?: string, confirmLabel?: string, maxLength?: number }} options
 * @returns {Promise<string | null>}
 */
export async function promptDialog({ title, label, value = '', confirmLabel = t('common.save'), maxLength = 100 }) {
  const input = h('input', { type: 'text', value, maxlength: maxLength, 'aria-label': label });
  const form = h('form', { class: 'stack' }, h('label', { class: 'field' }, h('span', {}, label), input));
  const pending = openDialog({
    title,
    className: 'prompt-dialog',
    body: form,
    actions: [
      { label: t('common.cancel'), id: 'cancel', class: 'ghost', value: null },
      { label: confirmLabel, id: 'confirm', class: 'primary', value: () => input.value.trim() || null },
    ],
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    /** @type {HTMLButtonElement | null | undefined} */ (form.closest('dialog')?.querySelector('[data-action="confirm"]'))?.click();
  });
  setTimeout(() => input.select(), 0);
  return pending;
}

/**
 * Disables a button while `task` runs and shows `busyLabel`.
 * @template T
 * @param {HTMLButtonElement} button
 * @param {string | null} busyLabel
 * @param {() => Promise<T>} task
 * @returns {Promise<T>}
 */
export async function withBusy(button, busyLabel, task) {
  const label = button.textContent;
  button.disabled = true;
  if (busyLabel) button.textContent = busyLabel;
  try {
    return await task();
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}
