// The app's service worker (PWA): when the network is gone, a page that says so instead of the browser's error.
// Only the offline page and what it needs are cached (its modules: server/test/users.test.ts checks the list); the app, the API and games always come from the network, so
// nobody ever sees a stale app or someone else's data from a cache.
const CACHE = 'dreamcore-offline-v1';
const OFFLINE = [
  '/offline.html',
  '/css/app.css',
  '/icons/icon.svg',
  '/js/offline.js',
  '/js/lib/dom.js',
  '/js/i18n/index.js',
  '/js/i18n/define.js',
  '/js/i18n/areas/account.js',
  '/js/i18n/areas/app.js',
  '/js/i18n/areas/assets.js',
  '/js/i18n/areas/chat.js',
  '/js/i18n/areas/code.js',
  '/js/i18n/areas/common.js',
  '/js/i18n/areas/editor.js',
  '/js/i18n/areas/errors.js',
  '/js/i18n/areas/index.js',
  '/js/i18n/areas/movie.js',
  '/js/i18n/areas/notifications.js',
  '/js/i18n/areas/offline.js',
  '/js/i18n/areas/play.js',
  '/js/i18n/areas/preview.js',
  '/js/i18n/areas/profile.js',
  '/js/i18n/areas/projects.js',
  '/js/i18n/areas/publish.js',
  '/js/i18n/areas/publishHelp.js',
  '/js/i18n/areas/remix.js',
  '/js/i18n/areas/signin.js',
  '/js/i18n/areas/versions.js',
];

const APP_PAGE = /^\/(create|login|mypage|project\/[^/]+|u\/[^/]+|@[^/]+)?\/?$/;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(OFFLINE))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  // Only the app's own pages: game pages, previews and the API keep their requests exactly as the browser makes them.
  if (request.mode === 'navigate' && APP_PAGE.test(url.pathname)) {
    event.respondWith(fetch(request).catch(() => caches.match('/offline.html')));
    return;
  }
  if (OFFLINE.includes(url.pathname)) {
    event.respondWith(fetch(request).catch(() => caches.match(url.pathname)));
  }
});

// Web push (server/src/jobs/push.ts): the server's notice, already in the language this device subscribed with.
self.addEventListener('push', (event) => {
  let notice;
  try {
    notice = event.data ? event.data.json() : null;
  } catch {
    return; // not the server's notice
  }
  if (!notice || typeof notice.title !== 'string') return;
  event.waitUntil(
    self.registration.showNotification(notice.title, {
      body: typeof notice.body === 'string' ? notice.body : '',
      icon: '/icons/icon-192.png',
      tag: typeof notice.tag === 'string' ? notice.tag : undefined,
      data: { url: typeof notice.url === 'string' && notice.url.startsWith('/') ? notice.url : '/' },
    }),
  );
});

// A tap on the notice: the app's tab comes forward on the notice's page, or a new one opens there.
self.addEventListener('notificationclick', (event) => {
  event.waitUntil(openNotice(event.notification));
});

/**
 * Closes the notice and shows its page. A function of its own because a browser test calls it: no automation
 * protocol can tap a system notification (server/test/browser.test.ts).
 * @param {Notification} notification
 */
function openNotice(notification) {
  notification.close();
  const url = new URL(notification.data?.url ?? '/', self.location.origin).href;
  return self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
    const open = windows.find((client) => new URL(client.url).origin === self.location.origin);
    if (!open) return self.clients.openWindow(url);
    // The page is on its way first; a window the browser will not bring forward (no tap) still shows it.
    return open.navigate(url).then((client) => (client ?? open).focus().catch(() => client ?? open));
  });
}
