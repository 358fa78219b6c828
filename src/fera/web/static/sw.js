// fera's service worker: keeps the page, the runtime and the models on the device, so that after the first visit
// the page works with no network at all. The list of files and the version are written by `fera web build`
// (fera.web.site); a new version replaces the old cache as a whole. Nothing here ever goes to another origin.
const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__;  // paths relative to this file
const CACHE = `fera-${VERSION}`;
const NETWORK_ONLY = /^(api\/|docs$|openapi\.json$)/;  // what only a fera server answers, never kept

const scope = new URL(self.registration ? self.registration.scope : self.location.href);
const relative = (url) => new URL(url).pathname.slice(scope.pathname.length);

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(PRECACHE.map((p) => new Request(p, { cache: "reload" }))))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k.startsWith("fera-") && k !== CACHE)
    .map((k) => caches.delete(k)))).then(() => self.clients.claim()));
});

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== self.location.origin || NETWORK_ONLY.test(relative(url))) return;
  e.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const key = e.request.mode === "navigate" ? new Request(scope.href) : e.request;
    const hit = await cache.match(key, { ignoreSearch: true });
    if (hit) return hit;
    const r = await fetch(e.request);
    if (r.ok && r.type === "basic") cache.put(e.request, r.clone());  // e.g. the WebGPU runtime, on the devices that use it
    return r;
  })());
});
