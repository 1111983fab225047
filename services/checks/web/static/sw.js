/* Quality checks: the service worker that lets /check/app open again with no connection.
 * It keeps three things only: the check page and its two files. Each is fetched from the network first
 * (so a phone with a connection always gets the newest), and the kept copy is used only when that fails.
 * Nothing else passes through it: no API answers, no other pages, nothing sent (POST) is ever kept.
 * The page is the signed-in checker's own; checks.js empties this cache when someone else signs in
 * on the phone and when they sign out. */
"use strict";

var CACHE = "qc-app-v2"; // a new name when the page and its script change together
var SHELL = ["/check/app", "/static/checks.css", "/static/checks.js"];

function keep(cache, path, response) {
  // Only a whole, same-site answer for the signed-in checker (not "this link does not work", not a redirect).
  if (response && response.ok && response.type === "basic" && !response.redirected) {
    return cache.put(path, response);
  }
  return Promise.resolve();
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return Promise.all(SHELL.map(function (path) {
        return fetch(path, { credentials: "same-origin", cache: "no-store" })
          .then(function (response) { return keep(cache, path, response); })
          .catch(function () { /* kept the next time the page is opened online */ });
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf("qc-app-") === 0 && k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

// A page that opened while this worker was still starting asks to be looked after now, not on its next load.
self.addEventListener("message", function (event) {
  if (event.data === "claim") event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || SHELL.indexOf(url.pathname) < 0) return;
  var path = url.pathname; // the page's #screen and any ?query do not make another copy
  event.respondWith(
    fetch(request).then(function (response) {
      var copy = response.clone();
      event.waitUntil(caches.open(CACHE).then(function (cache) { return keep(cache, path, copy); }));
      return response;
    }).catch(function () {
      return caches.open(CACHE).then(function (cache) { return cache.match(path); }).then(function (kept) {
        return kept || Response.error();
      });
    })
  );
});
