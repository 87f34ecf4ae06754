/* Loaded while a job (an import, a grant) runs: reload every few seconds to show its progress, unless a file is
   being chosen for the next import. The page's <noscript> refresh does the same without scripts. */
(function () {
  "use strict";

  window.setTimeout(function () {
    var input = document.querySelector("input[type=file]");
    if (!input || !input.value) window.location.reload();
  }, 3000);
})();
