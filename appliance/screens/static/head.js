// The section head's console: a refusal comes back with the part to show, like a success
// (422: a field to correct; 409: the screen was out of date; 403/503: the station cannot
// now). htmx keeps the old part on an error status and would show nothing.
(function () {
  "use strict";
  const shown = new Set([403, 409, 422, 503]);
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (shown.has(event.detail.xhr.status) && target && target.closest("[data-shows-refusals]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
