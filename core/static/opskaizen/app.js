// OpsKaizen: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  // Phones: the navigation collapses behind the Menu button (CSS hides it only when this ran).
  document.documentElement.classList.add("js");
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".nav-toggle");
    if (!toggle) return;
    var nav = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
  // Close an open menu on Escape or on a click elsewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  // A search box inside a form (the change picker) narrows a list: Enter there must not submit the form.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches && event.target.matches("input[data-no-submit]")) {
      event.preventDefault();
    }
  });
  // Disable a submit button while its form is in flight (the server refuses duplicates anyway).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("hx-post")) return; // htmx forms use hx-disabled-elt
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      window.setTimeout(function () { button.disabled = true; }, 0);
    });
  });
  // A "Cancel" button inside an htmx-loaded form empties its slot.
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest("[data-clear-target]");
    if (!cancel) return;
    event.preventDefault();
    var target = document.querySelector(cancel.getAttribute("data-clear-target"));
    if (target) target.innerHTML = "";
  });
  // An htmx request refused without a body to swap in (403, 404, 5xx): say so in place, styled.
  document.addEventListener("htmx:responseError", function (event) {
    var box = document.getElementById("request-error");
    if (!box) return;
    var status = String(event.detail.xhr.status);
    box.textContent = box.getAttribute("data-" + status) || box.getAttribute("data-other");
    box.setAttribute("role", "alert"); // only once there is something to announce
    box.hidden = false;
  });
  document.addEventListener("htmx:beforeRequest", function () {
    var box = document.getElementById("request-error");
    if (box) box.hidden = true;
  });
})();
