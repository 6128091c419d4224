// The app's service worker (PWA): when the network is gone, a page that says so instead of the browser's error.
// Only the offline page and what it needs are cached; the app, the API and games always come from the network, so
// nobody ever sees a stale app or someone else's data from a cache.
const CACHE = 'dreamcore-offline-v1';
const OFFLINE = ['/offline.html', '/css/app.css', '/js/offline.js', '/js/lib/dom.js', '/js/strings/offline.js', '/js/strings/catalogue.js', '/icons/icon.svg'];

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
  if (request.mode === 'navigate') {
    event.respondWith(fetch(request).catch(() => caches.match('/offline.html')));
    return;
  }
  if (OFFLINE.includes(url.pathname)) {
    event.respondWith(fetch(request).catch(() => caches.match(url.pathname)));
  }
});
