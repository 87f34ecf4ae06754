/* The send-code button: without this script it submits its form to the code route and the page comes back with
   a message; with it, a fetch shows the message in place and the button counts down before it sends again.
   A field with data-select-on-click (the invitation link) selects its text when tapped, for copying. */
(function () {
  "use strict";
  function countdown(button, seconds) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.disabled = true;
    (function tick() {
      if (seconds <= 0) { button.disabled = false; button.textContent = label; return; }
      button.textContent = button.getAttribute("data-wait").replace("%s", seconds);
      seconds -= 1;
      setTimeout(tick, 1000);
    })();
  }
  document.querySelectorAll("[data-send-code]").forEach(function (button) {
    var note = document.getElementById(button.getAttribute("data-send-code"));
    if (button.hasAttribute("data-countdown")) countdown(button, +button.getAttribute("data-countdown"));
    button.addEventListener("click", function (event) {
      if (!window.fetch || !window.FormData) return;
      event.preventDefault();
      button.disabled = true;
      fetch(button.formAction, {
        method: "POST", body: new FormData(button.form), credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (answer) {
        note.textContent = answer.body.message;
        note.className = "note " + (answer.ok ? "ok" : "error");
        if (answer.ok) countdown(button, 60); else button.disabled = false;
      }).catch(function () {
        note.textContent = button.getAttribute("data-failed");
        note.className = "note error";
        button.disabled = false;
      });
    });
  });
  document.querySelectorAll("[data-select-on-click]").forEach(function (field) {
    field.addEventListener("click", function () { field.select(); });
  });
})();
