// The screens' small behaviours, written here rather than fetched: the idle countdown,
// refusals shown where they belong, and plain feedback when the station cannot be reached.
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

  // A refusal is an answer too. The screens answer a refused form with HTML and a
  // status: 409 (the screen was out of date), 422 (a field refused it), 429 (too many
  // tickets), 403, 404 or 503 (not now): show it where the form's answer goes, which htmx
  // would not do for an error status. A JSON refusal (a stale CSRF token) has no part to
  // show: its message goes to the toast.
  const toast = document.getElementById("toast");
  const say = (text) => {
    toast.textContent = text;
    setTimeout(() => { if (toast.textContent === text) toast.textContent = ""; }, 6000);
  };
  const shown = new Set([403, 404, 409, 422, 429, 503]);
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (!shown.has(xhr.status)) return;
    const type = xhr.getResponseHeader("Content-Type") || "";
    if (type.startsWith("text/html")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (type.startsWith("application/json")) {
      try { say(JSON.parse(xhr.responseText).message); } catch (_) { /* not ours */ }
    }
  });

  // A request the station could not answer: say so where the officer looks.
  document.body.addEventListener("htmx:sendError", () => {
    say(document.documentElement.lang === "en"
      ? "The station cannot be reached. Try again in a moment." : "Stasiun tidak terjangkau. Coba lagi sebentar lagi.");
  });
})();
