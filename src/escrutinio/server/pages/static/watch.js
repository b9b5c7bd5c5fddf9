// The watcher's app: actas are saved on the phone first (IndexedDB, through idb-keyval)
// and sent when there is a network: when the page loads, on the browser's "online" event,
// on a timer and on "Send now" (not only through Background Sync, which most phones lack).
// Each acta carries a client_id chosen here once, so a retry after a lost answer is the
// same submission, counted once by the server.
(function () {
  "use strict";
  var root = document.getElementById("watch");
  var form = document.getElementById("acta-form");
  if (!root || !form || !window.idbKeyval) { return; }
  var kv = window.idbKeyval;
  var store = kv.createStore("escrutinio-watch", "actas");
  var contest = root.getAttribute("data-contest") || null;
  var queueEl = document.getElementById("queue");
  var summaryEl = document.getElementById("summary");
  var messageEl = document.getElementById("form-message");
  var net = document.getElementById("net");
  var photoInput = document.getElementById("w-photo");
  var preview = document.getElementById("w-preview");
  var unitInput = document.getElementById("w-unit");
  var photo = null;                      // the compressed photo of the acta being typed
  var MAX_SIDE = 1600, QUALITY = 0.8;    // enough to read every digit of an acta, ~200-400 kB
  var nf = new Intl.NumberFormat(root.getAttribute("data-lang") || undefined);

  function t(name, values) {
    var text = root.getAttribute("data-" + name) || name;
    return text.replace(/%\((\w+)\)s/g, function (_, k) { return values && values[k] !== undefined ? values[k] : ""; });
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) { return "watch-" + crypto.randomUUID(); }
    var a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return "watch-" + Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function showNet() {
    var on = navigator.onLine;
    net.textContent = net.getAttribute(on ? "data-online" : "data-offline");
    net.classList.toggle("off", !on);
  }

  // --- the photo: compressed on the phone before it is queued ------------------------------
  // Re-encoding drops the camera's EXIF (time and place), which the server compares with
  // the table's place and election day; so the original's EXIF segment is carried over,
  // with its orientation set upright (the canvas has already turned the pixels).
  function exifSegment(buf) {
    try {
      var v = new DataView(buf), off = 2;
      if (v.getUint16(0) !== 0xFFD8) { return null; }
      while (off + 10 <= v.byteLength) {
        var marker = v.getUint16(off), len = v.getUint16(off + 2);
        if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) { return null; }
        if (marker === 0xFFE1 && v.getUint32(off + 4) === 0x45786966) {
          var seg = new Uint8Array(buf.slice(off, off + 2 + len));
          var s = new DataView(seg.buffer), tiff = 10, little = s.getUint16(tiff) === 0x4949;
          var ifd = tiff + s.getUint32(tiff + 4, little), n = s.getUint16(ifd, little);
          for (var i = 0; i < n; i++) {
            var e = ifd + 2 + i * 12;
            if (s.getUint16(e, little) === 0x0112) { s.setUint16(e + 8, 1, little); }
          }
          return seg;
        }
        off += 2 + len;
      }
    } catch (err) { return null; }
    return null;
  }
  function withExif(original, jpeg) {
    if (!jpeg || original.type !== "image/jpeg" || !original.arrayBuffer) { return Promise.resolve(jpeg); }
    return Promise.all([original.arrayBuffer(), jpeg.arrayBuffer()]).then(function (bufs) {
      var seg = exifSegment(bufs[0]);
      if (!seg || seg.length > 128 * 1024) { return jpeg; }
      return new Blob([bufs[1].slice(0, 2), seg, bufs[1].slice(2)], { type: "image/jpeg" });
    }, function () { return jpeg; });
  }
  function compress(file) {
    return new Promise(function (resolve) {
      if (!file || !/^image\//.test(file.type)) { resolve(null); return; }
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () {
        var scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
        if (scale === 1 && file.size < 600 * 1024 && file.type === "image/jpeg") {
          URL.revokeObjectURL(url); resolve(file); return;     // already small: sent as taken
        }
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(img.naturalWidth * scale);
        canvas.height = Math.round(img.naturalHeight * scale);
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        canvas.toBlob(function (blob) { withExif(file, blob || file).then(resolve); }, "image/jpeg", QUALITY);
      };
      img.onerror = function () { URL.revokeObjectURL(url); resolve(null); };
      img.src = url;
    });
  }
  photoInput.addEventListener("change", function () {
    compress(photoInput.files && photoInput.files[0]).then(function (blob) {
      photo = blob;
      if (blob) { preview.src = URL.createObjectURL(blob); preview.hidden = false; } else { preview.hidden = true; }
    });
  });

  // --- scanning the table's code, where the phone can ---------------------------------------
  var scan = document.getElementById("scan");
  if (scan && "BarcodeDetector" in window && navigator.mediaDevices) {
    scan.hidden = false;
    scan.addEventListener("click", function () {
      var detector = new window.BarcodeDetector();
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        var video = document.createElement("video");
        video.srcObject = stream; video.setAttribute("playsinline", ""); video.play();
        var tries = 0;
        (function look() {
          detector.detect(video).then(function (codes) {
            var digits = codes.length ? String(codes[0].rawValue).replace(/\D/g, "") : "";
            if (digits || ++tries > 100) {
              stream.getTracks().forEach(function (tr) { tr.stop(); });
              if (digits) { unitInput.value = digits; unitInput.dispatchEvent(new Event("input")); }
            } else { setTimeout(look, 150); }
          }).catch(function () { stream.getTracks().forEach(function (tr) { tr.stop(); }); });
        })();
      }).catch(function () {});
    });
  }

  // --- saving on the phone -------------------------------------------------------------------
  function readValues() {
    var values = {}, ok = true;
    Array.prototype.forEach.call(form.querySelectorAll("input.n"), function (el) {
      var v = el.value.trim();
      if (!/^\d{1,7}$/.test(v)) { ok = false; el.setAttribute("aria-invalid", "true"); }
      else { values[el.name] = parseInt(v, 10); }
    });
    return ok ? values : null;
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var unit = unitInput.value.trim();
    messageEl.className = "message error";
    if (!unit || unit.length > 100) { messageEl.textContent = t("no-table"); unitInput.focus(); return; }
    var values = readValues();
    if (!values) { messageEl.textContent = t("incomplete"); return; }
    var item = { client_id: newId(), unit: unit, contest: contest, values: values, photo: photo, photo_sha256: null,
                 state: "queued", created: Date.now(), message: "" };
    kv.set(item.client_id, item, store).then(function () {
      form.reset(); photo = null; preview.hidden = true;
      form.dispatchEvent(new Event("input"));
      messageEl.className = "message";
      messageEl.textContent = t("saved", { unit: unit });
      unitInput.focus();
      return render();
    }).then(sync);
  });

  // --- the list of actas and their states ---------------------------------------------------
  function all() {
    return kv.values(store).then(function (items) {
      return items.sort(function (a, b) { return a.created - b.created; });
    });
  }
  function render() {
    return all().then(function (items) {
      var counts = { queued: 0, sent: 0, agreed: 0, differs: 0 };
      queueEl.innerHTML = "";
      items.slice().reverse().forEach(function (item) {
        var state = item.state === "sending" ? "queued" : item.state;
        if (counts[state] !== undefined) { counts[state] += 1; }
        var li = document.createElement("li");
        li.setAttribute("data-state", item.state);
        li.setAttribute("data-client-id", item.client_id);
        var strong = document.createElement("strong");
        strong.textContent = item.unit;
        var s = document.createElement("span");
        s.className = "state";
        s.textContent = t("state-" + item.state) + (item.message ? ": " + item.message : "");
        li.appendChild(strong); li.appendChild(s);
        (item.flags || []).forEach(function (f) {
          var fl = document.createElement("span");
          fl.className = "state flag";
          fl.textContent = t("photo-flag", { kind: f.kind });
          li.appendChild(fl);
        });
        queueEl.appendChild(li);
      });
      summaryEl.textContent = t("summary", { queued: nf.format(counts.queued), sent: nf.format(counts.sent),
                                              agreed: nf.format(counts.agreed), differs: nf.format(counts.differs) });
    });
  }

  // --- sending -------------------------------------------------------------------------------
  var COUNTED = { agreed: 1, resolved: 1, released: 1 }, DIFFERS = { different: 1, quarantined: 1 };
  function stateOf(server) { return COUNTED[server] ? "agreed" : DIFFERS[server] ? "differs" : "sent"; }
  function Retry() {}                    // no network, or the server could not answer: try later
  function LoggedOut() {}

  function post(url, options) {
    return fetch(url, Object.assign({ method: "POST", credentials: "same-origin" }, options)).then(function (r) {
      if (r.status === 401) { throw new LoggedOut(); }
      if (r.status >= 500 || r.status === 429 || r.status === 408) { throw new Retry(); }
      return r.json().catch(function () { return {}; }).then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
    }, function () { throw new Retry(); });
  }
  function save(item) { return kv.set(item.client_id, item, store); }

  function send(item) {
    var step = Promise.resolve();
    if (item.photo && !item.photo_sha256) {
      step = step.then(function () {
        var fd = new FormData();
        fd.append("file", item.photo, "acta-" + item.unit + ".jpg");
        return post("/api/v1/photos", { body: fd }).then(function (r) {
          if (r.ok) { item.photo_sha256 = r.body.sha256; return save(item); }
          item.message = r.body.error || String(r.status);        // the numbers still go, without the photo
          item.photo = null;
          return save(item);
        });
      });
    }
    return step.then(function () {
      var body = { unit: item.unit, values: item.values, client_id: item.client_id };
      if (item.contest) { body.contest = item.contest; }
      if (item.photo_sha256) { body.photo_sha256 = item.photo_sha256; }
      return post("/api/v1/entries", { headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    }).then(function (r) {
      if (r.ok) {
        item.state = stateOf(r.body.state);
        item.entry_id = r.body.entry_id;
        item.flags = r.body.photo_flags || [];
        item.photo = null;                   // sent: the phone's storage is freed
      } else {
        item.state = "refused";
        item.message = r.body.error || String(r.status);
      }
      return save(item);
    });
  }
  function refresh(item) {
    var q = item.contest ? "?contest=" + encodeURIComponent(item.contest) : "";
    return fetch("/api/v1/units/" + encodeURIComponent(item.unit) + q, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (layout) {
      if (layout && layout.state && stateOf(layout.state) !== item.state) {
        item.state = stateOf(layout.state);
        return save(item);
      }
    }, function () {});
  }

  var running = null;
  function sync() {
    if (running) { return running; }
    running = all().then(function (items) {
      var chain = Promise.resolve();
      items.forEach(function (item) {
        chain = chain.then(function () {
          if (item.state === "queued" || item.state === "sending") { return send(item); }
          if (item.state === "sent") { return refresh(item); }
        });
      });
      return chain;
    }).catch(function (e) {
      if (e instanceof LoggedOut) { messageEl.className = "message error"; messageEl.textContent = t("login"); }
    }).then(function () {
      running = null;
      return render();
    });
    return running;
  }
  window.escrutinioWatch = { sync: sync, items: all };   // for the browser tests and the curious

  window.addEventListener("online", function () { showNet(); sync(); });
  window.addEventListener("offline", showNet);
  document.getElementById("send-now").addEventListener("click", sync);
  var every = Math.max(2, parseInt(root.getAttribute("data-interval"), 10) || 20);
  setInterval(function () { if (navigator.onLine) { sync(); } }, every * 1000);
  showNet();
  render().then(sync);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/watch-sw.js", { scope: "/watch" }).catch(function () {});
  }
})();
