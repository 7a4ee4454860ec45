// Fields marked data-pick suggest the ids that begin with what is typed, asked of the
// field's URL (a few ids, never the whole fleet). Without this script they are plain
// text fields, and the filter takes the id as typed.
"use strict";

const PAUSE_MS = 150; // one request per pause in typing, not one per key

function fill(list, ids) {
  list.replaceChildren(
    ...ids.map((id) => {
      const option = document.createElement("option");
      option.value = id;
      return option;
    }),
  );
}

function watch(input) {
  const list = document.getElementById(input.getAttribute("list"));
  let timer = null;
  let asked = null;
  const ask = async () => {
    const prefix = input.value;
    if (prefix === asked) return;
    asked = prefix;
    const url = `${input.dataset.pick}?q=${encodeURIComponent(prefix)}`;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      // A session that ended answers with the login page: no suggestions then.
      const json = (response.headers.get("Content-Type") || "").includes("json");
      if (response.ok && json && input.value === prefix) fill(list, await response.json());
    } catch {
      asked = null; // the server was not reached: ask again on the next key
    }
  };
  input.addEventListener("focus", ask);
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, PAUSE_MS);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input[data-pick]").forEach(watch);
});
