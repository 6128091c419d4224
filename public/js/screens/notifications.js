// Being told when something is ready: the bell in the top bar (its unread count follows the socket's
// `notification` messages), its list (GET /api/notifications; an entry opens its project and is marked read), and the
// setting that has this device told by web push (the service worker's subscription, POST /api/push/subscribe).
import { h, openDialog, toast } from '../lib/dom.js';
import { hasKey, language, t, timeAgo } from '../i18n/index.js';

/** @typedef {{ id: string, title: string | null, message: string, event: string | null, params: Record<string, string>,
 *   project_id: string | null, read: boolean, created_at: string }} Notice */

/** The count every bell on the page shows, and the bells (a screen that is gone takes its bell with it). */
const bells = {
  count: 0,
  /** @type {Map<HTMLElement, () => void>} */
  views: new Map(),
  /** @type {import('../lib/socket.js').Socket | null} */
  socket: null,
};

/** @param {number} count */
function setCount(count) {
  bells.count = Math.max(0, count);
  for (const [el, draw] of bells.views) {
    if (el.isConnected) draw();
    else bells.views.delete(el);
  }
}

/**
 * Listens to the app's socket once: a new notice sets the count; a (re)connection asks for it again (notices may
 * have come while the socket was down).
 * @param {import('../main.js').App} app
 */
function follow(app) {
  if (bells.socket === app.socket) return;
  bells.socket = app.socket;
  app.socket.on('notification', (message) => {
    if (typeof message.unreadCount === 'number') setCount(message.unreadCount);
  });
  app.socket.on('init', () => refreshCount(app));
}

/** @param {import('../main.js').App} app */
function refreshCount(app) {
  app.api.get('/api/notifications/unread-count').then(
    (/** @type {{ count: number }} */ body) => setCount(body.count),
    () => undefined,
  );
}

/**
 * A notice in the language the app speaks now (the stored words are those of when it was made).
 * @param {Notice} notice
 */
function words(notice) {
  const title = `notifications.title_${notice.event}`;
  const body = `notifications.body_${notice.event}`;
  if (notice.event && hasKey(title) && hasKey(body)) {
    return { title: t(/** @type {any} */ (title), notice.params), body: t(/** @type {any} */ (body), notice.params) };
  }
  return { title: notice.title ?? '', body: notice.message };
}

/**
 * The bell: a button with the unread count; it opens the list.
 * @param {import('../main.js').App} app
 */
export function notificationBell(app) {
  follow(app);
  const badge = h('span', { class: 'bell-count', dataset: { testid: 'bell-count' }, hidden: true });
  const button = h('button', { type: 'button', class: 'ghost small icon-button bell', dataset: { testid: 'bell' }, onclick: () => openList(app) }, '🔔', badge);
  const draw = () => {
    const label = bells.count > 0 ? t('notifications.bellUnread', { count: bells.count }) : t('notifications.bell');
    button.title = label;
    button.setAttribute('aria-label', label);
    badge.textContent = bells.count > 99 ? '99+' : String(bells.count);
    badge.hidden = bells.count === 0;
  };
  bells.views.set(button, draw);
  draw();
  refreshCount(app);
  return button;
}

/** @param {import('../main.js').App} app */
async function openList(app) {
  const list = h('ul', { class: 'notice-list', dataset: { testid: 'notice-list' } });
  const status = h('p', { class: 'muted notice-status', role: 'status' });
  /** @param {Notice[]} notices */
  const draw = (notices) => {
    list.replaceChildren(
      ...notices.map((notice) => {
        const { title, body } = words(notice);
        return h(
          'li',
          { class: `notice${notice.read ? '' : ' unread'}`, dataset: { testid: 'notice', id: notice.id } },
          h(
            'button',
            { type: 'button', class: 'notice-open', onclick: () => openNotice(app, notice) },
            h('strong', { class: 'notice-title' }, title),
            h('span', { class: 'notice-body' }, body),
            h('time', { class: 'notice-time muted', datetime: notice.created_at }, timeAgo(notice.created_at)),
          ),
        );
      }),
    );
    status.textContent = notices.length === 0 ? t('notifications.empty') : '';
    status.hidden = notices.length > 0;
  };
  const load = async () => {
    try {
      const page = await app.api.get('/api/notifications?limit=50');
      setCount(page.unreadCount);
      draw(page.notifications);
    } catch {
      status.textContent = t('notifications.loadFailed');
      status.hidden = false;
    }
  };
  const markAll = async () => {
    try {
      await app.api.post('/api/notifications/read-all', {});
      await load();
    } catch {
      toast(t('notifications.loadFailed'), 'error');
    }
  };
  void load();
  await openDialog({
    title: t('notifications.title'),
    className: 'notice-dialog',
    body: h('div', { class: 'stack' }, status, list),
    actions: [
      { label: t('notifications.markAllRead'), id: 'mark-all-read', class: 'ghost', keepOpen: true, onclick: markAll },
      { label: t('common.close'), id: 'close', class: 'primary', value: null },
    ],
  });
}

/**
 * @param {import('../main.js').App} app
 * @param {Notice} notice
 */
function openNotice(app, notice) {
  if (!notice.read) {
    setCount(bells.count - 1); // at once; the server's count follows
    app.api.post(`/api/notifications/${notice.id}/read`, {}).then(
      () => refreshCount(app),
      () => undefined,
    );
  }
  /** @type {any} */ (document.querySelector('dialog.notice-dialog'))?.closeDialog?.(null);
  if (notice.project_id) app.navigate(`/project/${notice.project_id}`);
}

// ---------------------------------------------------------------------------------------------------- web push

/** Where this browser can receive web push at all. */
function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** This browser's push subscription, if it has one. */
async function currentSubscription() {
  if (!pushSupported()) return null;
  const registration = await navigator.serviceWorker.getRegistration('/');
  return (await registration?.pushManager.getSubscription()) ?? null;
}

/**
 * The setting in the account dialog: "tell me on this device". Checking it asks the browser's permission, subscribes
 * the service worker with the server's VAPID key and gives the subscription (with the app's language) to the server.
 * @param {import('../main.js').App} app
 */
export function pushSetting(app) {
  const box = h('input', { type: 'checkbox', name: 'push', dataset: { testid: 'push-toggle' }, disabled: true });
  const note = h('small', { class: 'muted' }, t('notifications.pushHint'));
  const say = (/** @type {import('../i18n/index.js').Key} */ key) => {
    note.textContent = t(key);
  };
  (async () => {
    if (!pushSupported()) return say('notifications.pushUnsupported');
    if (Notification.permission === 'denied') return say('notifications.pushDenied');
    box.checked = (await currentSubscription()) !== null;
    box.disabled = false;
  })().catch(() => say('notifications.pushUnsupported'));
  box.addEventListener('change', async () => {
    box.disabled = true;
    try {
      if (box.checked) {
        const outcome = await subscribe(app);
        if (outcome !== 'on') {
          box.checked = false;
          say(outcome === 'denied' ? 'notifications.pushDenied' : 'notifications.pushUnavailable');
        } else toast(t('notifications.pushOn'), 'success');
      } else {
        await forgetThisDevice(app);
        toast(t('notifications.pushOff'), 'info');
      }
    } catch {
      box.checked = (await currentSubscription().catch(() => null)) !== null;
      toast(t('notifications.pushFailed'), 'error');
    } finally {
      box.disabled = Notification.permission === 'denied';
    }
  });
  return h('label', { class: 'field checkbox-field' }, h('span', { class: 'row' }, box, h('span', {}, t('notifications.pushLabel'))), note);
}

/**
 * @param {import('../main.js').App} app
 * @returns {Promise<'on' | 'denied' | 'unavailable'>}
 */
async function subscribe(app) {
  let key;
  try {
    key = (await app.api.get('/api/push/vapid-key')).publicKey;
  } catch {
    return 'unavailable';
  }
  if ((await Notification.requestPermission()) !== 'granted') return 'denied';
  const registration = await navigator.serviceWorker.ready;
  const subscription =
    (await registration.pushManager.getSubscription()) ?? (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
  await app.api.post('/api/push/subscribe', { ...subscription.toJSON(), language: language() });
  return 'on';
}

/**
 * Before signing out (or when the setting is turned off): this browser stops being told about this user.
 * @param {import('../main.js').App} app
 */
export async function forgetThisDevice(app) {
  const subscription = await currentSubscription().catch(() => null);
  if (!subscription) return;
  await app.api.del('/api/push/unsubscribe', { json: { endpoint: subscription.endpoint } }).catch(() => undefined);
  await subscription.unsubscribe().catch(() => undefined);
}

/**
 * A new language in the app: the device's notices follow it (the subscription is given again with it).
 * @param {import('../main.js').App} app
 */
export function followLanguage(app) {
  window.addEventListener('languagechange', async () => {
    const subscription = await currentSubscription().catch(() => null);
    if (subscription && app.auth.signedIn) await app.api.post('/api/push/subscribe', { ...subscription.toJSON(), language: language() }).catch(() => undefined);
  });
}
