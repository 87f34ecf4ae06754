/* Every dashboard page: forms with data-confirm ask before they post, selects with data-autosubmit submit their form
   when changed. Here rather than in onsubmit/onchange attributes, which the Content-Security-Policy refuses to run
   (script-src without 'unsafe-inline'). No framework. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.requestSubmit();
    });
  });
})();
