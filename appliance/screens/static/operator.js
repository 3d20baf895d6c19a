// The operator's console: a refused action still shows its answer. It comes back as HTML
// with 409 (another officer took the step), 422 (a field refused it), 404 or 503 (a
// device not ready), and htmx leaves error answers unswapped by default; JSON errors
// (CSRF, sign-in) are still left alone.
(function () {
  "use strict";
  const shown = new Set([404, 409, 422, 503]);
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    const html = (xhr.getResponseHeader("Content-Type") || "").startsWith("text/html");
    if (html && shown.has(xhr.status)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
