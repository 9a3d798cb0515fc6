/* ivigwatch session page: vitals over time with the baseline and the rule file's limits, the pump's
   rate as steps, symptoms and alerts, all on one time axis. SVG drawn here, no libraries. */
"use strict";

(function () {
  const Ivig = window.Ivig;
  const el = Ivig.el;
  const SVG = "http://www.w3.org/2000/svg";
  const W = 1000, LEFT = 80, RIGHT = 20, TOP = 10, PANEL = 110, GAP = 16, RATE = 80, LANES = 56, AXIS = 28;
  const PANELS = [
    { title: "Heart rate", unit: "beats/min", vitals: ["heart_rate"] },
    { title: "Blood pressure", unit: "mmHg", vitals: ["systolic_bp", "diastolic_bp"] },
    { title: "Temperature", unit: "°C", vitals: ["temperature_c"] },
    { title: "SpO2", unit: "%", vitals: ["spo2"] },
    { title: "Respiratory rate", unit: "breaths/min", vitals: ["respiratory_rate"] },
    { title: "Weight", unit: "kg", vitals: ["weight_kg"] },
  ];
  const NAMES = { heart_rate: "heart rate", systolic_bp: "systolic BP", diastolic_bp: "diastolic BP",
    temperature_c: "temperature", spo2: "SpO2", respiratory_rate: "respiratory rate", weight_kg: "weight" };
  const UNITS = { heart_rate: "beats/min", systolic_bp: "mmHg", diastolic_bp: "mmHg", temperature_c: "°C",
    spo2: "%", respiratory_rate: "breaths/min", weight_kg: "kg" };
  const TICK_MINUTES = [5, 10, 15, 30, 60, 120, 240, 480, 720, 1440, 2880];
  const REFRESH_MS = 30000;

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function round1(v) { return String(Math.round(v * 10) / 10); }

  function tip(node, text) { node.appendChild(svg("title", {}, text)); return node; }

  function span(times) {
    let t0 = Math.min.apply(null, times), t1 = Math.max.apply(null, times);
    if (!(t1 > t0)) { t0 -= 30 * 60000; t1 += 30 * 60000; }
    const pad = (t1 - t0) * 0.02;
    return [t0 - pad, t1 + pad];
  }

  function linear(d0, d1, r0, r1) {
    return function (v) { return r0 + (v - d0) * (r1 - r0) / (d1 - d0); };
  }

  /* [low, high] of a panel's y axis: its values with room below, and above for the panel's title */
  function domain(values) {
    let lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    if (!(hi > lo)) { lo -= 1; hi += 1; }
    return [lo - (hi - lo) * 0.12, hi + (hi - lo) * 0.35];
  }

  function draw(data) {
    const chart = document.getElementById("vitals-chart");
    const present = new Set();
    data.vitals.forEach(function (v) { Object.keys(v.values).forEach(function (k) { present.add(k); }); });
    const panels = PANELS.filter(function (p) { return p.vitals.some(function (v) { return present.has(v); }); });
    const times = [].concat(
      data.vitals.map(function (v) { return Date.parse(v.ts); }),
      data.pump.map(function (p) { return Date.parse(p.ts); }),
      data.symptoms.map(function (s) { return Date.parse(s.ts); }),
      data.alerts.map(function (a) { return Date.parse(a.ts); }));
    const t = span(times);
    const x = linear(t[0], t[1], LEFT, W - RIGHT);
    const height = TOP + panels.length * (PANEL + GAP) + RATE + GAP + LANES + AXIS;
    chart.setAttribute("viewBox", "0 0 " + W + " " + height);
    chart.replaceChildren();
    let top = TOP;

    panels.forEach(function (panel) {
      const g = svg("g", { class: "panel" });
      const values = [];
      panel.vitals.forEach(function (name) {
        data.vitals.forEach(function (v) { if (v.values[name] !== undefined) values.push(v.values[name]); });
        if (data.baseline[name] !== undefined) values.push(data.baseline[name]);
      });
      const d = domain(values);
      const y = linear(d[0], d[1], top + PANEL, top);
      g.appendChild(svg("rect", { class: "frame", x: LEFT, y: top, width: W - RIGHT - LEFT, height: PANEL }));
      g.appendChild(svg("text", { class: "panel-title", x: LEFT + 6, y: top + 14 }, panel.title + " (" + panel.unit + ")"));
      const shown = values.length ? [Math.min.apply(null, values), Math.max.apply(null, values)] : [];
      shown.filter(function (v, i) { return i === 0 || v !== shown[0]; }).forEach(function (v) {
        g.appendChild(svg("text", { class: "y-label", x: LEFT - 6, y: y(v) + 4 }, round1(v)));
      });
      panel.vitals.forEach(function (name, i) {
        (data.thresholds[name] || []).forEach(function (limit) {
          if (limit.value < d[0] || limit.value > d[1]) return;
          g.appendChild(tip(svg("line", { class: "limit sev-" + limit.severity, x1: LEFT, x2: W - RIGHT,
            y1: y(limit.value), y2: y(limit.value) }), "limit " + limit.label));
        });
        if (data.baseline[name] !== undefined) {
          const b = data.baseline[name];
          g.appendChild(tip(svg("line", { class: "baseline", x1: LEFT, x2: W - RIGHT, y1: y(b), y2: y(b) }),
            "baseline " + NAMES[name] + " " + round1(b)));
        }
        const points = data.vitals.filter(function (v) { return v.values[name] !== undefined; });
        if (!points.length) return;
        g.appendChild(svg("polyline", { class: "series series-" + i, points: points.map(function (v) {
          return x(Date.parse(v.ts)).toFixed(1) + "," + y(v.values[name]).toFixed(1);
        }).join(" ") }));
        points.forEach(function (v) {
          g.appendChild(tip(svg("circle", { class: "dot series-" + i, r: 2.5, cx: x(Date.parse(v.ts)),
            cy: y(v.values[name]) }), Ivig.clock(v.ts) + " " + NAMES[name] + " " + v.values[name] + " " + UNITS[name]));
        });
      });
      chart.appendChild(g);
      top += PANEL + GAP;
    });

    /* infusion rate as steps (0 while paused) */
    const rates = data.rate_segments.map(function (s) { return s.rate; }).concat([0]);
    const yr = linear(0, Math.max.apply(null, rates) * 1.15 || 1, top + RATE, top);
    const rate = svg("g", { class: "panel rate" });
    rate.appendChild(svg("rect", { class: "frame", x: LEFT, y: top, width: W - RIGHT - LEFT, height: RATE }));
    rate.appendChild(svg("text", { class: "panel-title", x: LEFT + 6, y: top + 14 }, "Infusion rate (mL/h)"));
    data.rate_segments.forEach(function (s) {
      const x0 = x(Date.parse(s.start)), x1 = x(Date.parse(s.end));
      rate.appendChild(tip(svg("rect", { class: "rate-step" + (s.paused ? " paused" : ""), x: x0, y: yr(s.rate),
        width: Math.max(x1 - x0, 1), height: top + RATE - yr(s.rate) }),
        Ivig.clock(s.start) + "–" + Ivig.clock(s.end) + (s.paused ? " paused" : " " + s.rate + " mL/h")));
      if (!s.paused) rate.appendChild(svg("text", { class: "rate-label", x: x0 + 3, y: yr(s.rate) - 3 }, String(s.rate)));
    });
    chart.appendChild(rate);
    top += RATE + GAP;

    /* symptoms (upper lane) and alerts (lower lane, with a line across every panel) */
    const lanes = svg("g", { class: "lanes" });
    lanes.appendChild(svg("text", { class: "y-label", x: LEFT - 6, y: top + 14 }, "symptoms"));
    lanes.appendChild(svg("text", { class: "y-label", x: LEFT - 6, y: top + 42 }, "alerts"));
    data.symptoms.forEach(function (s, i) {
      const cx = x(Date.parse(s.ts));
      lanes.appendChild(tip(svg("circle", { class: "symptom sev-" + s.severity, cx: cx, cy: top + 10, r: 5 }),
        Ivig.clock(s.ts) + " " + Ivig.words(s.symptom) + " (" + s.severity + ")"));
      lanes.appendChild(svg("text", { class: "mark-label", x: cx + 7, y: top + 14 + (i % 2) * 10 }, Ivig.words(s.symptom)));
    });
    data.alerts.filter(function (a) { return a.status === "firing"; }).forEach(function (a) {
      const ax = x(Date.parse(a.ts));
      lanes.appendChild(svg("line", { class: "alert-line sev-" + a.severity, x1: ax, x2: ax, y1: TOP, y2: top + 40 }));
      lanes.appendChild(tip(svg("path", { class: "alert-mark sev-" + a.severity,
        d: "M" + ax + " " + (top + 32) + " l6 8 l-6 8 l-6 -8 z" }),
        Ivig.clock(a.ts) + " " + a.severity + " " + a.condition + ": " + a.summary));
    });
    chart.appendChild(lanes);
    top += LANES;

    /* the time axis */
    const axis = svg("g", { class: "axis" });
    const minutes = (t[1] - t[0]) / 60000;
    const step = TICK_MINUTES.find(function (m) { return minutes / m <= 10; }) || 2880;
    const first = Math.ceil(t[0] / (step * 60000)) * step * 60000;
    axis.appendChild(svg("line", { x1: LEFT, x2: W - RIGHT, y1: top, y2: top }));
    for (let tick = first; tick <= t[1]; tick += step * 60000) {
      axis.appendChild(svg("line", { class: "grid", x1: x(tick), x2: x(tick), y1: TOP, y2: top + 4 }));
      axis.appendChild(svg("text", { class: "x-label", x: x(tick), y: top + 18 }, Ivig.clock(new Date(tick).toISOString())));
    }
    chart.insertBefore(axis, chart.firstChild);
  }

  function facts(data) {
    const base = document.querySelector("#baseline dl");
    const names = Object.keys(data.baseline);
    base.replaceChildren.apply(base, names.length ? [].concat.apply([], names.map(function (k) {
      return [el("dt", { text: NAMES[k] || k }), el("dd", { text: round1(data.baseline[k]) + " " + (UNITS[k] || "") })];
    })) : [el("dd", { text: "not yet known (needs readings before the infusion starts)" })]);
    const profile = data.profile || {};
    const list = document.querySelector("#risk-factors ul");
    const factors = profile.risk_factors || [];
    list.replaceChildren.apply(list, factors.length ? factors.map(function (f) {
      return el("li", { className: "risk", text: Ivig.words(f) });
    }) : [el("li", { className: "none", text: "none recorded" })]);
    const more = document.querySelector("#risk-factors dl");
    const rows = [];
    if (profile.epinephrine_available !== undefined) rows.push(["epinephrine at home", profile.epinephrine_available ? "yes" : "NO"]);
    if (profile.myasthenia_gravis !== undefined) rows.push(["myasthenia gravis", profile.myasthenia_gravis ? "yes" : "no"]);
    if (profile.usual_product) rows.push(["usual product", profile.usual_product]);
    if (data.product) rows.push(["this infusion", data.product]);
    more.replaceChildren.apply(more, [].concat.apply([], rows.map(function (r) {
      return [el("dt", { text: r[0] }), el("dd", { text: r[1] })];
    })));
    const body = document.querySelector("#session-alerts tbody");
    body.replaceChildren.apply(body, data.alerts.slice().reverse().map(function (a) {
      return el("tr", { className: "sev-" + a.severity + (a.severity === "critical" ? " critical" : "") }, [
        el("td", { text: Ivig.clock(a.ts) }), el("td", { text: a.condition }),
        el("td", { className: "severity" }, [el("span", { className: "badge", text: a.severity })]),
        el("td", { text: a.status }), el("td", { text: a.summary }), el("td", { text: a.by || "" })]);
    }));
    const who = document.getElementById("session-patient");
    who.replaceChildren(document.createTextNode("patient " + data.patient_id + " · "), el("a", {
      id: "patient-limits", href: "/patients/" + encodeURIComponent(data.patient_id) + "/limits",
      text: "limits and snoozes" }));
    const started = data.start ? "started " + new Date(data.start).toLocaleString() : "not started";
    const stopped = data.stop ? ", stopped " + new Date(data.stop).toLocaleString() : "";
    document.getElementById("session-summary").textContent = started + stopped + " · rules " +
      data.rules.id + " " + data.rules.version;
  }

  function load(sessionId) {
    window.fetch("/api/sessions/" + encodeURIComponent(sessionId), { credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) { window.location.assign("/login"); return; }
        return response.json().then(function (data) {
          const error = document.getElementById("session-error");
          error.hidden = response.ok;
          if (!response.ok) { error.textContent = data.error || response.statusText; return; }
          draw(data);
          facts(data);
        });
      })
      .catch(function () { /* the next refresh tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const sessionId = document.getElementById("session").getAttribute("data-session-id");
    Ivig.liveAlerts(function () {}); /* the critical sound and the connection state follow every page */
    load(sessionId);
    window.setInterval(function () { load(sessionId); }, REFRESH_MS);
  });
})();
