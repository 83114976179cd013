// The desk's only script (the content security policy allows no inline script):
// - puts the sign-in token from the link's #fragment into the form, and wipes the fragment;
// - counts alert deadlines down, on the server's clock (data-now), once a second;
// - shows times in the browser's own time zone beside the returnee's;
// - shows the death protocol note only when that reason is chosen.
(function () {
  "use strict";
  var offset = 0; // server time minus browser time, in ms

  function syncClock(root) {
    var holder = root.querySelector ? root.querySelector("[data-now]") : null;
    if (root.dataset && root.dataset.now) { holder = root; }
    if (holder) { offset = Date.parse(holder.dataset.now) - Date.now(); }
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function tick() {
    var now = Date.now() + offset;
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.deadline) - now) / 1000);
      var s = Math.abs(left);
      var text = Math.floor(s / 3600) + ":" + pad(Math.floor(s % 3600 / 60)) + ":" + pad(s % 60);
      el.textContent = (left >= 0 ? el.dataset.left : el.dataset.over).replace("{time}", text);
      el.classList.toggle("overdue", left < 0);
    });
  }

  function localTimes(root) {
    var lang = document.documentElement.lang || undefined;
    var fmt;
    try {
      fmt = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "long" });
    } catch (e) { return; }
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      el.textContent = fmt.format(new Date(el.getAttribute("datetime")));
    });
  }

  function signinToken() {
    var field = document.getElementById("code");
    if (field && location.hash.length > 1) {
      field.value = decodeURIComponent(location.hash.slice(1));
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  function deathProtocol() {
    var select = document.getElementById("c-reason");
    var note = document.getElementById("death-protocol");
    if (!select || !note) { return; }
    var show = function () { note.hidden = select.value !== note.dataset.forReason; };
    select.addEventListener("change", show);
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    signinToken();
    syncClock(document);
    localTimes(document);
    deathProtocol();
    tick();
    setInterval(tick, 1000);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    syncClock(event.target);
    localTimes(event.target);
    tick();
  });
})();
