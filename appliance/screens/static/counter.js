// The counter's console: the small behaviours htmx does not have.
(function () {
  "use strict";
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
