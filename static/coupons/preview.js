/* The coupon editor: the live preview card (templates/coupons/_coupon_card.html) redrawn from the form's fields as
   they change, with the phrases the server put in #coupon-card-texts (coupons.views.templates.card_texts, which
   also fills the card on the server: keep the two in step), and the fields that the chosen kind, scope, audience or
   use window does not use hidden and disabled, so they are not posted (#coupon-shown-when). No framework. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-coupon-form]");
  var card = document.querySelector("[data-coupon-preview]");
  var textsNode = document.getElementById("coupon-card-texts");
  var shownNode = document.getElementById("coupon-shown-when");
  if (!form || !card || !textsNode || !shownNode) return;
  var texts = JSON.parse(textsNode.textContent);
  var shownWhen = JSON.parse(shownNode.textContent);
  var SEPARATORS = /[,，、;；\n]/; // as points.forms.CATEGORY_SEPARATORS

  // Python's "%(name)s" formatting, for the server's phrases.
  function fill(format, values) {
    return format.replace(/%\((\w+)\)[sd]|%%/g, function (match, name) {
      if (match === "%%") return "%";
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  function value(name) {
    var field = form.elements[name];
    if (!field) return "";
    if (typeof RadioNodeList !== "undefined" && field instanceof RadioNodeList) return field.value;
    return field.disabled ? "" : field.value.trim();
  }

  function amount(name) {
    var text = value(name);
    var number = text === "" ? NaN : Number(text);
    return isFinite(number) ? number : null;
  }

  // 20, 8.5, 12.75: no trailing zeros (as _number on the server).
  function plain(number) {
    return String(parseFloat(number.toFixed(4)));
  }

  // ¥20, ¥20.50: cents only when there are some (as money() on the server).
  function money(number) {
    return texts.currency + (Number.isInteger(number) ? String(number) : number.toFixed(2));
  }

  function condition(kind, worth) {
    var min = amount("min_spend");
    var parts = [min ? fill(texts.min_spend, { min: money(min) }) : texts.no_min];
    var max = amount("max_discount");
    if (kind === "percent_off" && max) parts.push(fill(texts.max_discount, { max: money(max) }));
    if (kind === "free_shipping" && worth) parts.push(fill(texts.shipping_cap, { max: money(worth) }));
    var item = value("item_name") || value("item_sku");
    if ((kind === "gift" || kind === "exchange") && item) parts.push(item);
    return parts.join(" · ");
  }

  function validity() {
    var days = parseInt(value("valid_days"), 10);
    var start = value("valid_from").slice(0, 10);
    var end = value("valid_until").slice(0, 10);
    if (days > 0) return fill(days === 1 ? texts.valid_day : texts.valid_days, { days: days });
    if (end && start) return fill(texts.valid_range, { start: start, end: end });
    if (end) return fill(texts.valid_until, { end: end });
    return "";
  }

  function scope() {
    var chosen = value("scope");
    var parts = [texts.scope_order];
    if (chosen !== "order") {
      var names = value("scope_values")
        .split(SEPARATORS)
        .map(function (part) { return part.trim(); })
        .filter(Boolean);
      parts = [fill(texts["scope_" + chosen] || "", { names: names.join(texts.separator) })];
    }
    var channel = texts.channels[value("use_channel")];
    if (channel) parts.push(channel);
    return parts.join(" · ");
  }

  function big(kind, worth) {
    if (kind === "amount_off" || kind === "no_threshold") return money(worth);
    if (kind === "percent_off") return fill(texts.percent, { off: plain(worth), rate: plain((100 - worth) / 10) });
    return texts[kind] || "";
  }

  function show(part, text) {
    card.querySelector('[data-part="' + part + '"]').textContent = text;
  }

  // Fields shown only for some values of another field (TemplateForm.SHOWN_WHEN): hidden and disabled otherwise.
  function toggleFields() {
    Object.keys(shownWhen).forEach(function (name) {
      var rule = shownWhen[name];
      var shown = rule[1].indexOf(value(rule[0])) !== -1;
      var inputs = form.querySelectorAll('[name="' + name + '"]');
      var anchor = inputs[0] || document.getElementById("id_" + name); // a list of checkboxes with no choices
      var wrapper = anchor && anchor.closest(".field");
      if (wrapper) wrapper.hidden = !shown;
      inputs.forEach(function (input) {
        input.disabled = !shown;
      });
    });
  }

  function render() {
    toggleFields();
    var kind = value("kind");
    var worth = amount("value") || 0;
    card.className = card.className.replace(/\bkind-\S+/, "kind-" + kind);
    show("big", big(kind, worth));
    show("condition", condition(kind, worth));
    show("name", value("name") || texts.name);
    show("validity", validity());
    show("scope", scope());
  }

  form.addEventListener("input", render);
  form.addEventListener("change", render);
  render();
})();
