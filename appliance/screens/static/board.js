// The waiting-room board: a new call stands out for a few seconds, and a board that plays
// the calls itself (/board?suara=1) plays each call's audio after the one before it,
// never dropping one. The board's parts are refreshed by htmx on the public feed.
(function () {
  "use strict";
  const FRESH_MS = 8000;
  const sound = document.body.dataset.sound === "1";
  const button = document.querySelector("[data-enable-sound]");
  const waiting = [];
  let playing = false;
  let freshUntil = 0;

  function shownCall() {
    const now = document.querySelector(".board-now");
    return now ? Number(now.dataset.call || 0) : 0;
  }

  function playNext() {
    if (playing || waiting.length === 0) return;
    playing = true;
    const audio = new Audio("/board/suara/" + waiting[0] + ".wav");
    const finished = () => { playing = false; waiting.shift(); playNext(); };
    audio.addEventListener("ended", finished);
    audio.addEventListener("error", finished);
    audio.play().catch(() => {
      // The browser wants a click before it plays sound: keep the call, ask for one.
      playing = false;
      if (button) button.hidden = false;
    });
  }

  if (button) {
    button.addEventListener("click", () => { button.hidden = true; playNext(); });
  }

  function markFresh() {
    const now = document.querySelector(".board-now");
    if (now) now.classList.toggle("fresh", Date.now() < freshUntil);
  }

  // The call shown when the page opened is an old one: only later calls are new.
  let last = shownCall();
  document.body.addEventListener("htmx:afterSettle", () => {
    const call = shownCall();
    if (call !== last) {
      last = call;
      if (call > 0) {
        freshUntil = Date.now() + FRESH_MS;
        setTimeout(markFresh, FRESH_MS + 50);
        if (sound) { waiting.push(call); playNext(); }
      }
    }
    markFresh();
  });
})();
