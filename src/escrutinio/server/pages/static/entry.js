// Data entry, keyboard-first: Enter and the arrow keys move between the acta's boxes,
// and the acta's arithmetic is checked as the typist types. The server checks again.
(function () {
  "use strict";
  var form = document.getElementById("acta-form");
  if (!form) { return; }
  var inputs = Array.prototype.slice.call(form.querySelectorAll("input.n"));
  var choices = Array.prototype.slice.call(form.querySelectorAll("input.choice"));
  var list = document.getElementById("checks");
  var sumOut = document.getElementById("valid-sum");
  var lang = list.getAttribute("data-lang") || undefined;
  var nf = new Intl.NumberFormat(lang);

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, k) { return values[k]; });
  }
  function value(name) {
    var el = form.elements[name];
    if (!el || el.value.trim() === "") { return null; }
    return /^\d+$/.test(el.value.trim()) ? parseInt(el.value.trim(), 10) : NaN;
  }
  function item(cls, text) {
    var li = document.createElement("li");
    li.className = cls;
    li.textContent = text;
    return li;
  }
  function check() {
    var empty = 0, bad = [];
    inputs.forEach(function (el) {
      var v = el.value.trim();
      if (v === "") { empty += 1; el.removeAttribute("aria-invalid"); }
      else if (!/^\d+$/.test(v)) { bad.push(el.labels && el.labels[0] ? el.labels[0].textContent : el.name); el.setAttribute("aria-invalid", "true"); }
      else { el.removeAttribute("aria-invalid"); }
    });
    var valid = 0;
    choices.forEach(function (el) { var v = parseInt(el.value, 10); if (!isNaN(v) && /^\d+$/.test(el.value.trim())) { valid += v; } });
    sumOut.textContent = nf.format(valid);
    var items = [];
    if (bad.length) { items.push(item("fail", fill(list.getAttribute("data-nondigit"), { names: bad.join(", ") }))); }
    var blank = value("blank"), nul = value("null"), emitted = value("emitted"), registered = value("registered");
    if (blank !== null && nul !== null && emitted !== null && !isNaN(blank + nul + emitted)) {
      var total = valid + blank + nul;
      items.push(item(total === emitted ? "pass" : "fail",
        fill(list.getAttribute("data-sum"), { total: nf.format(total), emitted: nf.format(emitted) })));
    }
    if (emitted !== null && registered !== null && !isNaN(emitted + registered)) {
      items.push(item(emitted <= registered ? "pass" : "fail",
        fill(list.getAttribute("data-cast"), { emitted: nf.format(emitted), registered: nf.format(registered) })));
    }
    if (empty) { items.push(item("pending", fill(list.getAttribute("data-empty"), { n: nf.format(empty) }))); }
    list.innerHTML = "";
    items.forEach(function (li) { list.appendChild(li); });
  }
  // Keyboard order is the paper's (and the page's) order: choices, blank and null, then totals.
  var order = inputs;
  order.forEach(function (el, i) {
    el.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === "ArrowDown") {
        if (i + 1 < order.length) { ev.preventDefault(); order[i + 1].focus(); order[i + 1].select(); }
        else if (ev.key === "ArrowDown") { ev.preventDefault(); document.getElementById("save").focus(); }
      } else if (ev.key === "ArrowUp" && i > 0) {
        ev.preventDefault(); order[i - 1].focus(); order[i - 1].select();
      }
    });
  });
  // The chosen photo shows beside the form before it is saved.
  var photo = document.getElementById("photo"), preview = document.getElementById("photo-preview");
  if (photo && preview && window.URL) {
    photo.addEventListener("change", function () {
      var none = document.getElementById("no-photos");
      if (photo.files && photo.files[0]) { preview.src = URL.createObjectURL(photo.files[0]); preview.hidden = false; }
      else { preview.hidden = true; }
      if (none) { none.hidden = !preview.hidden; }
    });
  }
  form.addEventListener("input", check);
  check();
})();
