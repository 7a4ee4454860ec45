// A form that leaves the page (log out, a filter, a save) first stops the page's live
// refresh and lets a poll already on its way finish, its answer dropped. A poll the
// server saw after a logout would be refused (401), and a poll cancelled makes htmx
// log its abort: either is an error in the console. Polls answer in milliseconds; a
// stuck one holds the form back no longer than LONGEST_WAIT_MS.
"use strict";

const LONGEST_WAIT_MS = 2000;
const onTheirWay = new Set();
let leaving = false;
let held = false;

document.addEventListener("htmx:beforeRequest", (event) => {
  if (leaving) event.preventDefault();
});

document.addEventListener("htmx:beforeSend", (event) => {
  const request = event.detail.xhr;
  onTheirWay.add(request);
  request.addEventListener("loadend", () => onTheirWay.delete(request));
});

document.addEventListener("htmx:beforeOnLoad", (event) => {
  if (leaving) event.preventDefault();
});

function finished(request) {
  return new Promise((resolve) => request.addEventListener("loadend", resolve));
}

// htmx submits its own forms and cancels their default: only a plain form leaves.
window.addEventListener("submit", (event) => {
  if (held) {
    event.preventDefault(); // a second click while the first form waits
    return;
  }
  if (event.defaultPrevented) return;
  leaving = true;
  if (onTheirWay.size === 0) return;
  event.preventDefault();
  held = true;
  const form = event.target;
  const button = event.submitter;
  const timeUp = new Promise((resolve) => setTimeout(resolve, LONGEST_WAIT_MS));
  Promise.race([Promise.all([...onTheirWay].map(finished)), timeUp]).then(() => {
    onTheirWay.clear();
    held = false;
    form.requestSubmit(button);
  });
});

// Back to this page from the browser's cache: it is live again.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) leaving = false;
});
