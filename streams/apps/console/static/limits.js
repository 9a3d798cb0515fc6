/* ivigwatch limits page (issue 16): one patient's own limits and snoozes. The forms need a reason and
   an expiry; the server checks them against the rule file before anything is sent, and its refusal
   (a critical row, a composite, a limit out of bounds, an expiry too long) is shown as it came. */
"use strict";

(function () {
  const Ivig = window.Ivig;
  const el = Ivig.el;
  const main = document.getElementById("limits");
  const patient = main.getAttribute("data-patient-id");
  const base = "/api/patients/" + encodeURIComponent(patient);
  let options = null;

  function show(id, text) {
    const node = document.getElementById(id);
    node.textContent = text || "";
    node.hidden = !text;
  }

  function drawInForce(data) {
    const list = document.getElementById("in-force-list");
    list.textContent = "";
    data.limits.concat(data.snoozes).forEach(function (s) {
      const kind = s.vital ? "limit" : "snooze";
      const end = el("button", { type: "button", className: "end", "data-key": s.key, text: "End now" });
      end.addEventListener("click", function () {
        const body = kind === "limit" ? { vital: s.vital, side: s.side, clear: true }
          : { condition: s.condition, rule: s.rule, clear: true };
        send(kind, body);
      });
      list.appendChild(el("li", { className: "setting " + kind, "data-key": s.key }, [
        el("span", { text: s.text + " " }), end]));
    });
    document.getElementById("none-in-force").hidden = list.children.length > 0;
  }

  function fillForms(opts) {
    const target = document.getElementById("limit-target");
    target.textContent = "";
    opts.bounds.forEach(function (b, i) {
      target.appendChild(el("option", { value: String(i),
        text: b.label + (b.side === "low" ? " low (pages below)" : " high (pages above)") }));
    });
    document.getElementById("limit-hours").max = opts.max_limit_hours;
    document.getElementById("snooze-hours").max = opts.max_snooze_hours;
    const snooze = document.getElementById("snooze-target");
    snooze.textContent = "";
    opts.snooze_targets.forEach(function (t, i) {
      const what = t.rule ? "  " + t.rule + " (" + t.severity + ")" : Ivig.words(t.condition) +
        (t.snoozable ? " (its warning and urgent rows)" : " (never snoozed)");
      snooze.appendChild(el("option", { value: String(i), text: what }));
    });
    showBounds();
  }

  function showBounds() {
    const b = options && options.bounds[Number(document.getElementById("limit-target").value)];
    document.getElementById("limit-bounds").textContent = b ? "from " + b.min + " to " + b.max : "";
  }

  function load() {
    return window.fetch(base + "/settings", { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { window.location.assign("/login"); return null; }
      return r.json();
    }).then(function (data) {
      if (!data) return null;
      if (!options) { options = data.options; fillForms(options); }
      drawInForce(data);
      return data;
    });
  }

  /* After a 202 the rule worker and this console read the action back from the topic: reload until
     the setting shows (or is gone, for an end), for a few seconds. */
  function reloadUntil(key, present, tries) {
    load().then(function (data) {
      const shown = data && data.limits.concat(data.snoozes).some(function (s) { return s.key === key; });
      if (shown !== present && tries > 0) window.setTimeout(function () { reloadUntil(key, present, tries - 1); }, 500);
    });
  }

  function send(kind, body) {
    show("limits-error", "");
    show("limits-done", "");
    return Ivig.post(base + "/" + kind, body).then(function (r) {
      return r.json().then(function (answer) {
        if (r.status !== 202) { show("limits-error", "Refused: " + (answer.error || r.status)); return; }
        show("limits-done", kind === "limit" ? "Limit sent." : "Snooze sent.");
        reloadUntil(answer.action.alert_id, !body.clear, 20);
      });
    }).catch(function () { show("limits-error", "The console could not be reached."); });
  }

  document.getElementById("limit-target").addEventListener("change", showBounds);
  document.getElementById("limit-form").addEventListener("submit", function (event) {
    event.preventDefault();
    const b = options.bounds[Number(document.getElementById("limit-target").value)];
    send("limit", { vital: b.vital, side: b.side, value: document.getElementById("limit-value").value,
      hours: document.getElementById("limit-hours").value, reason: document.getElementById("limit-reason").value });
  });
  document.getElementById("snooze-form").addEventListener("submit", function (event) {
    event.preventDefault();
    const t = options.snooze_targets[Number(document.getElementById("snooze-target").value)];
    send("snooze", { condition: t.condition, rule: t.rule, hours: document.getElementById("snooze-hours").value,
      reason: document.getElementById("snooze-reason").value });
  });
  load();
})();
