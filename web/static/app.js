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
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    if (f.classList && f.classList.contains("confirm")) {
      if (!window.confirm(f.getAttribute("data-confirm") || "Are you sure?")) { ev.preventDefault(); }
    }
  });
})();
