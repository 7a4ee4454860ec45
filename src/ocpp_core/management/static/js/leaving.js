// A form that leaves the page (log out, a filter, a save) stops the page's live
// refresh: a poll sent while the form's answer is on its way would ask with a session
// the form may just have ended (log out), and the browser would log its 401.
"use strict";

let leaving = false;

function polling() {
  return document.querySelectorAll('[hx-trigger^="every"]');
}

// htmx submits its own forms and cancels their default: only a plain form leaves.
window.addEventListener("submit", (event) => {
  if (event.defaultPrevented) return;
  leaving = true;
  for (const element of polling()) htmx.trigger(element, "htmx:abort");
});

document.addEventListener("htmx:beforeRequest", (event) => {
  if (leaving) event.preventDefault();
});

// Back to this page from the browser's cache: it is live again.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) leaving = false;
});
