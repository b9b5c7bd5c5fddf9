// Live pages: when /api/v1/events announces a change of a kind the page shows, fetch the
// page again (or its fragment) as rendered by the server, numbers formatted by Babel, and
// swap the #live region in, without reloading. Never while the user is typing in it.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var status = document.getElementById("live-status");
  if (!live || !window.fetch) { return; }
  var url = live.getAttribute("data-fragment") || window.location.href;
  var whole = !live.getAttribute("data-fragment");
  var kinds = (live.getAttribute("data-events") || "snapshot projection").split(/\s+/);
  var pending = null, inFlight = false, again = false;

  function say(text) { if (status && text) { status.textContent = text; } }
  function busy() {
    var a = document.activeElement;
    return a && live.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName) && a.value !== "";
  }

  function refresh() {
    if (inFlight) { again = true; return; }
    if (busy()) { pending = setTimeout(refresh, 2000); return; }
    inFlight = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        if (whole) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("live");
          if (!fresh) { return; }
          html = fresh.innerHTML;
        }
        live.innerHTML = html;
        var when = new Date().toLocaleTimeString(document.documentElement.lang || undefined);
        if (status) { say(status.getAttribute("data-updated") + " " + when + "."); }
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
    kinds.forEach(function (name) { source.addEventListener(name, schedule); });
    source.addEventListener("open", function () { if (status) { say(status.getAttribute("data-connected")); } });
    source.addEventListener("error", function () { if (status) { say(status.getAttribute("data-offline")); } });
  } else {
    setInterval(refresh, 30000);
  }
})();
