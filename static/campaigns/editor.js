/* The campaign editor: the SMS counter and the sample preview redrawn as the text changes, placeholders inserted at
   the cursor, the fields that the chosen audience, channel or schedule does not use hidden, and the live count of
   who would get the message (GET the preview endpoint with the form's audience fields). The server put its settings
   in #campaign-editor-config (campaigns.views.editor.editor_context). compose() and parts() mirror
   campaigns.rules.sms_compose and sms_parts: keep them in step. No framework. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-campaign-form]");
  var configNode = document.getElementById("campaign-editor-config");
  if (!form || !configNode) return;
  var config = JSON.parse(configNode.textContent);
  var text = form.elements.text;
  var counter = document.querySelector("[data-testid=sms-counter]");
  var preview = document.querySelector("[data-testid=message-preview]");
  var live = document.querySelector("[data-testid=live-count]");
  var PLACEHOLDER = /\{(name|shop|tier|points_balance|points_expiring|coupon|link)\}/g;
  var TRAILING = /[ \t\r\n.。!！]+$/;
  var gsmBasic = new Set(Array.from(config.gsmBasic));
  var gsmExtension = new Set(Array.from(config.gsmExtension));

  // Python's "%(name)s" formatting, for the server's phrases.
  function fill(format, values) {
    return format.replace(/%\((\w+)\)s/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  function render(body) {
    return body.replace(PLACEHOLDER, function (match, name) {
      var value = config.sample[name];
      return value === undefined || value === null ? "" : String(value);
    });
  }

  // rules.sms_compose: 【signature】 first, the opt-out line last unless the text already ends with one.
  function compose(body) {
    var prefix = "【" + config.signature + "】";
    body = body.trim();
    if (body.indexOf(prefix) === 0) body = body.slice(prefix.length).replace(/^\s+/, "");
    var ended = config.optOutLines.some(function (line) {
      var stripped = body.replace(TRAILING, "");
      return stripped.slice(stripped.length - line.length) === line;
    });
    if (!ended) {
      var separator = config.optOut === config.optOutLines[0] || !body ? "" : " ";
      body = body + separator + config.optOut;
    }
    return prefix + body;
  }

  // rules.sms_parts: GSM-7 unless one character is outside it; parts filled without splitting a character.
  function parts(message) {
    var chars = Array.from(message);
    var gsm = chars.every(function (c) { return gsmBasic.has(c) || gsmExtension.has(c); });
    var encoding = gsm ? "GSM-7" : "UCS-2";
    var widths = chars.map(function (c) {
      if (gsm) return gsmExtension.has(c) ? 2 : 1;
      return c.codePointAt(0) > 0xffff ? 2 : 1;
    });
    var total = widths.reduce(function (a, b) { return a + b; }, 0);
    var sizes = config.partSizes[encoding];
    if (total === 0) return { chars: 0, parts: 0, encoding: encoding };
    if (total <= sizes[0]) return { chars: total, parts: 1, encoding: encoding };
    var count = 1;
    var room = sizes[1];
    widths.forEach(function (width) {
      if (width > room) { count += 1; room = sizes[1]; }
      room -= width;
    });
    return { chars: total, parts: count, encoding: encoding };
  }

  function channel() {
    return form.elements.channel.value;
  }

  function redrawText() {
    var body = render(text.value);
    if (channel() === "sms") {
      var message = compose(body);
      preview.textContent = message;
      counter.textContent = fill(config.counter, parts(message));
    } else {
      var title = form.elements.title.value.trim();
      preview.textContent = (title ? render(title) + "\n" : "") + body.trim();
    }
  }

  function showFor(attribute, value) {
    document.querySelectorAll("[data-" + attribute + "]").forEach(function (node) {
      node.hidden = node.getAttribute("data-" + attribute).split(" ").indexOf(value) === -1;
    });
  }

  function radio(name) {
    var field = form.elements[name];
    return field ? field.value : "";
  }

  function redrawFields() {
    showFor("audience", radio("audience_kind"));
    showFor("channel", channel());
    showFor("schedule", radio("schedule"));
  }

  // --- The live count -----------------------------------------------------------------------------------------

  var AUDIENCE_FIELDS = ["audience_kind", "segment", "tag", "tier", "channel", "holdout_percent", "schedule",
    "send_at", "quiet_hours"];
  var timer = null;
  var asked = 0;

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  function bar(n, top) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 100 10");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("class", "count-bar");
    svg.setAttribute("aria-hidden", "true");
    var rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    rect.setAttribute("width", top ? Math.max(n ? 1 : 0, Math.round((100 * n) / top)) : 0);
    rect.setAttribute("height", "10");
    svg.appendChild(rect);
    return svg;
  }

  function showCount(data) {
    live.replaceChildren();
    var summary = element("p", "count-preview", data.text);
    summary.setAttribute("data-testid", "live-count-text");
    live.appendChild(summary);
    if (data.audience === null) return;  // no audience chosen yet
    live.appendChild(bar(data.queued, data.audience));
    if (!data.suppressed.length) {
      live.appendChild(element("p", "help", config.noneSuppressed));
      return;
    }
    live.appendChild(element("h3", "", config.suppressedHeading));
    var table = element("table", "reasons");
    data.suppressed.forEach(function (row) {
      var tr = element("tr");
      tr.setAttribute("data-reason", row.reason);
      tr.appendChild(element("td", "", row.label));
      tr.appendChild(element("td", "num", String(row.n)));
      var cell = element("td", "bar-cell");
      cell.appendChild(bar(row.n, data.audience));
      tr.appendChild(cell);
      table.appendChild(tr);
    });
    live.appendChild(table);
  }

  function count() {
    var params = new URLSearchParams();
    AUDIENCE_FIELDS.forEach(function (name) {
      var value = radio(name);
      if (value) params.set(name, value);
    });
    if (config.campaign) params.set("campaign", config.campaign);
    var mine = ++asked;
    live.classList.add("busy");
    fetch(config.previewUrl + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json().then(function (data) { return [response.ok, data]; }); })
      .then(function (result) {
        if (mine !== asked) return;  // a later question is on its way
        live.classList.remove("busy");
        if (result[0]) {
          showCount(result[1]);
        } else {
          live.replaceChildren(element("p", "count-preview error", result[1].error));
        }
      })
      .catch(function () { live.classList.remove("busy"); });
  }

  function countSoon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(count, 300);
  }

  // --- Wiring ------------------------------------------------------------------------------------------------

  document.querySelectorAll("[data-placeholder]").forEach(function (button) {
    button.addEventListener("click", function () {
      var token = "{" + button.getAttribute("data-placeholder") + "}";
      var start = text.selectionStart;
      var end = text.selectionEnd;
      text.value = text.value.slice(0, start) + token + text.value.slice(end);
      text.focus();
      text.selectionStart = text.selectionEnd = start + token.length;
      redrawText();
    });
  });

  form.addEventListener("input", function (event) {
    var name = event.target.name;
    if (name === "text" || name === "title") redrawText();
    if (AUDIENCE_FIELDS.indexOf(name) !== -1) countSoon();
  });
  form.addEventListener("change", function (event) {
    redrawFields();
    redrawText();
    if (AUDIENCE_FIELDS.indexOf(event.target.name) !== -1) countSoon();
  });

  redrawFields();
  redrawText();
  count();
})();
