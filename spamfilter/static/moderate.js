// The review page's only script: "select all" for the bulk actions. Everything works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const all of document.querySelectorAll("input.select-all")) {
    all.addEventListener("change", () => {
      for (const box of all.form.querySelectorAll('input[name="guid"]:not(:disabled)')) {
        box.checked = all.checked;
      }
    });
  }
});
