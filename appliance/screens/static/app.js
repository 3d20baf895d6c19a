// The consoles' small behaviours, written here rather than fetched: the idle countdown,
// and plain feedback when the station cannot be reached.
(function () {
  "use strict";
  const body = document.body;
  const idleSeconds = Number(body.dataset.idleS || 0);
  const warnSeconds = Number(body.dataset.warnS || 0);
  const backgroundHeader = "X-Ktpel-Background";

  // The session's idle clock restarts with every request the officer makes; the live
  // refreshes carry the background header and do not count (nor does the server count them).
  if (idleSeconds > 0) {
    const warning = document.getElementById("idle-warning");
    const countdown = warning.querySelector("[data-countdown]");
    let lastActivity = Date.now();
    const touched = () => { lastActivity = Date.now(); warning.hidden = true; };
    document.body.addEventListener("htmx:afterRequest", (event) => {
      const headers = event.detail.requestConfig && event.detail.requestConfig.headers;
      if (!headers || !headers[backgroundHeader]) touched();
    });
    warning.querySelector("[data-stay]").addEventListener("click", () => {
      htmx.ajax("POST", "/sesi/perpanjang", { swap: "none" });
    });
    setInterval(() => {
      const left = idleSeconds - (Date.now() - lastActivity) / 1000;
      if (left <= 0) {
        window.location.assign("/masuk?habis=1&kembali=" + encodeURIComponent(window.location.pathname));
      } else if (left <= warnSeconds) {
        countdown.textContent = String(Math.ceil(left));
        if (warning.hidden) { warning.hidden = false; warning.querySelector("[data-stay]").focus(); }
      }
    }, 1000);
  }

  // A request the station could not answer: say so where the officer looks.
  const toast = document.getElementById("toast");
  document.body.addEventListener("htmx:sendError", () => {
    toast.textContent = document.documentElement.lang === "en"
      ? "The station cannot be reached. Trying again..." : "Stasiun tidak terjangkau. Mencoba lagi...";
    setTimeout(() => { toast.textContent = ""; }, 5000);
  });
})();
