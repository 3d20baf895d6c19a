// The kiosk's own behaviour: its refusals (429: too many tickets from this screen; 503:
// the printer cannot print) are whole screens, shown like any other, where htmx would
// otherwise keep the previous screen and show nothing.
(function () {
  "use strict";
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    if ((status === 429 || status === 503) && event.detail.target.id === "kiosk-screen") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
