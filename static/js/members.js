/* Members pages: revealing a phone number in place, the live count of a filter. No framework. */
(function () {
  "use strict";

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      body: body,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
  }

  // Forms with data-reveal="<element id>" show the number in that element. A submit that dashboard.js (loaded
  // first) cancelled, a data-confirm answered No, is left alone.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented) return;
    if (form.dataset.reveal) {
      event.preventDefault();
      post(form.action, new FormData(form))
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) {
          var target = document.getElementById(form.dataset.reveal);
          target.textContent = data.phone;
          target.classList.add("revealed");
          form.remove();
        })
        .catch(function () {
          form.submit(); // the page-load way: the server shows the number once after a redirect
        });
    }
  });

  // Live count: a form with data-count-url posts its fields there (debounced) and shows the answer.
  var form = document.querySelector("form[data-count-url]");
  if (!form) return;
  var output = document.getElementById(form.dataset.countOutput);
  var timer = null;
  var latest = 0;

  function update() {
    var mine = ++latest;
    output.classList.add("busy");
    post(form.dataset.countUrl, new FormData(form))
      .then(function (response) {
        return response.json();
      })
      .then(function (data) {
        if (mine !== latest) return; // an older answer arriving late
        output.classList.remove("busy");
        output.classList.toggle("error", Boolean(data.error));
        output.textContent = data.error || data.text;
      })
      .catch(function () {
        if (mine !== latest) return;
        output.classList.remove("busy");
        output.classList.add("error");
        output.textContent = output.dataset.failed;
      });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, 400);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  update();
})();
