// Live results: when /api/v1/events announces a change, fetch the server-rendered
// fragment (numbers formatted by Babel on the server) and swap it in, without reloading.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var status = document.getElementById("live-status");
  if (!live || !window.fetch) { return; }
  var url = live.getAttribute("data-fragment");
  var pending = null, inFlight = false, again = false;

  function say(text) { if (status && text) { status.textContent = text; } }

  function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        live.innerHTML = html;
        var when = new Date().toLocaleTimeString(document.documentElement.lang || undefined);
        say(status.getAttribute("data-updated") + " " + when + ".");
        live.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* keep what is on screen; the next event retries */ })
      .then(function () { inFlight = false; if (again) { again = false; schedule(); } });
  }

  function schedule() {
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(function () { pending = null; refresh(); }, 250);
  }

  if (window.EventSource) {
    var source = new EventSource("/api/v1/events");
    // The public page shows the official count and its projection: those two kinds change it.
    ["snapshot", "projection"].forEach(function (name) {
      source.addEventListener(name, schedule);
    });
    source.addEventListener("open", function () { say(status.getAttribute("data-connected")); });
    source.addEventListener("error", function () { say(status.getAttribute("data-offline")); });
  } else {
    setInterval(refresh, 30000);
  }
})();
