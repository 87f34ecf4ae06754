// The automation editor: each step row shows the fields of its kind (wait, message, reward) and hides the others.
// Without the script every field shows, and the server reads only those of the chosen kind.
(function () {
  "use strict";
  function show(fieldset) {
    var kind = fieldset.querySelector("select[name$='-kind']").value;
    fieldset.dataset.kind = kind;
    fieldset.querySelectorAll("[data-kinds]").forEach(function (part) {
      var kinds = part.dataset.kinds;
      part.hidden = !(kinds === "*" || (kind && kinds.split(" ").indexOf(kind) >= 0));
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("fieldset.step").forEach(function (fieldset) {
      show(fieldset);
      fieldset.querySelector("select[name$='-kind']").addEventListener("change", function () { show(fieldset); });
    });
  });
})();
