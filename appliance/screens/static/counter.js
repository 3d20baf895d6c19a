// The counter's console: the small behaviours htmx does not have.
(function () {
  "use strict";
  // A refused form comes back as HTML with 409 (stale screen), 422 (a field refused it),
  // 404 or 503 (a device not ready): show it where the form was. htmx leaves error
  // answers unswapped by default; JSON errors (CSRF, sign-in) are still left alone.
  const shown = new Set([404, 409, 422, 503]);
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    const html = (xhr.getResponseHeader("Content-Type") || "").startsWith("text/html");
    if (html && shown.has(xhr.status)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // The NIK and KK are read as they are typed: only their verdict is swapped, never the
  // input (the caret and the digits typed since stay), so mark the input here.
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const verdict = event.target;
    if (!verdict.classList || !verdict.classList.contains("counter-number")) return;
    const input = document.getElementById(verdict.id.replace("check-", "f-"));
    if (!input) return;
    const invalid = verdict.dataset.valid === "false";
    if (invalid) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    input.closest(".field").classList.toggle("invalid", invalid);
  });
})();
