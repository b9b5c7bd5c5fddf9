// The watcher app's service worker (served at /watch-sw.js, scope /watch): the page and
// its files come from the phone's cache when there is no network. Submissions are not
// handled here: the page queues them in IndexedDB and sends them itself.
/* global importScripts, workbox */
importScripts("/static/vendor/workbox/workbox-sw.js");
workbox.setConfig({ modulePathPrefix: "/static/vendor/workbox/", debug: false });

var VERSION = "__VERSION__";
var PAGES = "escrutinio-watch-pages-" + VERSION;
var FILES = "escrutinio-watch-files-" + VERSION;
var SHELL = ["/static/watch.js", "/static/entry.js", "/static/watch.css", "/static/watch-icon.svg",
             "/static/vendor/idb-keyval/umd.js"];

// the modules are loaded now: a service worker may not import scripts later
var routing = workbox.routing, strategies = workbox.strategies, core = workbox.core;

self.addEventListener("install", function (event) {
  event.waitUntil(Promise.all([
    caches.open(FILES).then(function (c) { return c.addAll(SHELL); }),
    caches.open(PAGES).then(function (c) { return c.add("/watch").catch(function () {}); })
  ]).then(function () { return self.skipWaiting(); }));
});
self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) {
      return n.indexOf("escrutinio-watch-") === 0 && n !== PAGES && n !== FILES;
    }).map(function (n) { return caches.delete(n); }));
  }));
});
core.clientsClaim();

routing.registerRoute(function (o) { return o.request.mode === "navigate" && o.url.pathname === "/watch"; },
  new strategies.NetworkFirst({ cacheName: PAGES, networkTimeoutSeconds: 5, matchOptions: { ignoreSearch: true, ignoreVary: true } }));
routing.registerRoute(function (o) {
  return o.request.method === "GET" && (o.url.pathname.indexOf("/static/") === 0 || o.url.pathname === "/watch.webmanifest");
}, new strategies.StaleWhileRevalidate({ cacheName: FILES, matchOptions: { ignoreSearch: true, ignoreVary: true } }));
