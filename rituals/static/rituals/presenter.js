// Presenter mode (rituals/review_present.html): keyboard, section timer, announcements.
// Without this file the page still works: the links and the forms are plain HTML.
(function () {
  "use strict";
  var announcer = document.getElementById("presenter-announce");
  function announce(text) {
    if (!announcer || !text) return;
    announcer.textContent = "";
    // A change after load is what screen readers announce.
    window.setTimeout(function () { announcer.textContent = text; }, 100);
  }
  if (announcer) announce(announcer.getAttribute("data-announce"));

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable=true]") !== null;
  }
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    var key = event.key.toLowerCase();
    var which = { arrowright: "next", n: "next", arrowleft: "prev", p: "prev", b: "board" }[key];
    if (which) {
      var link = document.querySelector("a[data-present=" + which + "]");
      if (link) { event.preventDefault(); link.click(); }
      return;
    }
    if (key === "d") {
      var first = document.querySelector("#presenter .decision-bar button, #presenter .decision-bar summary");
      if (first) { event.preventDefault(); first.focus(); }
    }
  });

  // After a decision the item is redrawn in place (htmx): say what was recorded, or why not.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var article = document.querySelector("#presenter article.agenda-item");
    if (!article) return;
    var refusal = article.querySelector("[role=alert]");
    var decisions = article.querySelectorAll(".decisions li");
    if (refusal) announce(refusal.textContent.replace(/\s+/g, " ").trim());
    else if (decisions.length) announce(decisions[decisions.length - 1].textContent.replace(/\s+/g, " ").trim());
    var next = document.querySelector("a[data-present=next]");
    if (next && !refusal) next.focus();
  });

  // The section's timer: time spent on the section since its first item was shown, against its timebox.
  var timer = document.querySelector("[data-timer]");
  if (!timer) return;
  var key = "opskaizen:present:" + timer.getAttribute("data-timer");
  var started = Number(window.sessionStorage.getItem(key));
  if (!started) {
    started = Date.now();
    window.sessionStorage.setItem(key, String(started));
  }
  var limit = Number(timer.getAttribute("data-minutes")) * 60;
  var over = timer.getAttribute("data-over");
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function clock(seconds) { return pad(Math.floor(seconds / 60)) + ":" + pad(seconds % 60); }
  function tick() {
    var spent = Math.floor((Date.now() - started) / 1000);
    var late = spent > limit;
    timer.textContent = clock(spent) + " / " + clock(limit) + (late ? " — " + over : "");
    timer.classList.toggle("over", late);
  }
  tick();
  window.setInterval(tick, 1000);
})();
