// Gatehouse console: copy buttons and confirmations. No inline script (the
// CSP allows only same-origin files); everything works without it too.
(function () {
  "use strict";
  function copyText(text, btn) {
    var done = function () {
      var old = btn.textContent;
      btn.textContent = "Copied";
      btn.classList.add("copied");
      setTimeout(function () { btn.textContent = old; btn.classList.remove("copied"); }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text, btn, done); });
    } else {
      fallback(text, btn, done);
    }
  }
  function fallback(text, btn, done) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "offscreen";
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* the value stays selectable on the page */ }
    document.body.removeChild(ta);
  }
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("button.copy") : null;
    if (btn) { copyText(btn.getAttribute("data-copy") || "", btn); }
  });
  // IdP form: show (and submit) only the chosen provider's fields; the
  // server renders the same choice, and links switch it without script.
  var idpType = document.getElementById("idp_type");
  if (idpType) {
    idpType.addEventListener("change", function () {
      var fs = document.querySelectorAll("fieldset[data-idp]");
      for (var i = 0; i < fs.length; i++) {
        var on = (" " + fs[i].getAttribute("data-idp") + " ").indexOf(" " + idpType.value + " ") >= 0;
        fs[i].hidden = !on;
        fs[i].disabled = !on;
      }
    });
  }
  // New team: suggest the slug from the name (the server's rule, asked at
  // /console/teams/slug) until the person types a slug of their own.
  var slug = document.querySelector("input[data-suggest-from]");
  if (slug && window.fetch) {
    var from = document.getElementById(slug.getAttribute("data-suggest-from"));
    var own = slug.value !== "", timer = null;
    slug.addEventListener("input", function () { own = slug.value !== ""; });
    from.addEventListener("input", function () {
      if (own) { return; }
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch("/console/teams/slug?name=" + encodeURIComponent(from.value), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (d) { if (d && !own) { slug.value = d.slug; } })
          .catch(function () { /* the server fills an empty slug anyway */ });
      }, 200);
    });
  }
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    if (f.classList && f.classList.contains("confirm")) {
      if (!window.confirm(f.getAttribute("data-confirm") || "Are you sure?")) { ev.preventDefault(); }
    }
  });
})();
