/* ivigwatch console page: open alerts (severity, then age) and recently resolved alerts, live.
   Buttons send a nurse action; a row changes only when the lifecycle agent's message arrives. */
"use strict";

(function () {
  const Ivig = window.Ivig;
  const el = Ivig.el;
  const pending = new Map(); /* alert_id -> the action sent, until the alert's next message */
  let state = null;

  function patientCell(view) {
    const cell = el("td", { className: "patient" });
    if (view.session_id && view.session_id !== "-") {
      cell.appendChild(el("a", { href: "/sessions/" + encodeURIComponent(view.session_id), text: view.patient_id }));
      cell.appendChild(el("div", { className: "sub", text: view.session_id }));
    } else {
      cell.appendChild(el("span", { text: view.patient_id === "-" ? "pipeline" : view.patient_id }));
    }
    return cell;
  }

  function conditionCell(view) {
    return el("td", { className: "condition" }, [
      el("span", { className: "condition-name", text: view.condition }),
      el("div", { className: "sub title", text: view.title }),
    ]);
  }

  function evidenceCell(view) {
    const ev = view.evidence || {};
    const facts = [];
    if (ev.phase) facts.push(Ivig.words(ev.phase));
    if (ev.rate_ml_per_h !== null && ev.rate_ml_per_h !== undefined) facts.push(ev.rate_ml_per_h + " mL/h");
    if (ev.minutes_since_rate_step !== null && ev.minutes_since_rate_step !== undefined) {
      facts.push(Math.round(ev.minutes_since_rate_step) + " min after a rate step");
    }
    return el("td", { className: "evidence" }, [
      el("span", { text: ev.summary || "" }),
      facts.length ? el("div", { className: "sub", text: facts.join(" · ") }) : null,
    ]);
  }

  function lastWord(view) {
    const notes = view.notes || [];
    if (notes.length) { const n = notes[notes.length - 1]; return n.by + ": " + n.note; }
    return view.by ? view.by + (view.note ? ": " + view.note : "") : "";
  }

  function button(kind, label, disabled) {
    const b = el("button", { type: "button", className: kind, "data-kind": kind, text: label });
    b.disabled = Boolean(disabled);
    return b;
  }

  function openRow(view, now) {
    const sent = pending.get(view.alert_id);
    const row = el("tr", {
      className: "alert-row sev-" + view.severity + (view.severity === "critical" ? " critical" : "") +
        (sent ? " pending" : ""),
      "data-alert-id": view.alert_id, "data-severity": view.severity, "data-status": view.status,
    });
    const level = view.escalation_level || 0;
    const word = lastWord(view);
    row.append(
      patientCell(view),
      conditionCell(view),
      el("td", { className: "severity" }, [el("span", { className: "badge", text: view.severity }),
        el("div", { className: "sub status", text: view.status })]),
      el("td", { className: "age", "data-since": view.first_fired, text: Ivig.age(view.first_fired, now),
        title: new Date(view.first_fired).toLocaleString() }),
      el("td", { className: "escalation" + (level ? " escalated" : ""), text: level ? "L" + level : "–" }),
      evidenceCell(view),
      el("td", { className: "action" }, [el("span", { text: view.action }),
        word ? el("div", { className: "sub note-text", text: word }) : null]),
      el("td", { className: "buttons" }, [
        button("ack", "Ack", view.status === "acknowledged" || sent === "ack"),
        button("resolve", "Resolve", sent === "resolve"),
        button("note", "Note", false),
        sent ? el("div", { className: "sub sent", text: sent + " sent, waiting for the rules worker" }) : null,
      ]),
    );
    return row;
  }

  function resolvedRow(view) {
    const word = lastWord(view);
    return el("tr", {
      className: "alert-row sev-" + view.severity, "data-alert-id": view.alert_id,
      "data-severity": view.severity, "data-status": view.status,
    }, [
      patientCell(view),
      conditionCell(view),
      el("td", { className: "severity" }, [el("span", { className: "badge", text: view.severity })]),
      el("td", { className: "resolved-at", text: Ivig.clock(view.ts), title: new Date(view.ts).toLocaleString() }),
      el("td", { className: "acted-by", text: (view.acted_by || []).join(", ") || "resolved by itself" }),
      el("td", { className: "note-text", text: word }),
    ]);
  }

  function render(current) {
    const now = Date.now();
    const open = Array.from(current.open.values()).sort(Ivig.openOrder);
    document.querySelector("#open-alerts tbody").replaceChildren.apply(
      document.querySelector("#open-alerts tbody"), open.map(function (v) { return openRow(v, now); }));
    document.querySelector("#resolved-alerts tbody").replaceChildren.apply(
      document.querySelector("#resolved-alerts tbody"), current.resolved.map(resolvedRow));
    document.getElementById("open-count").textContent = String(open.length);
    document.getElementById("no-open").hidden = open.length > 0;
    const critical = open.some(function (v) { return v.severity === "critical"; });
    document.title = (critical ? "CRITICAL · " : "") + open.length + " open · ivigwatch";
  }

  function showError(text) {
    const box = document.getElementById("action-error");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function send(alertId, kind) {
    let body = {};
    if (kind === "note") {
      const text = window.prompt("Note on this alert (who you called, what was done):");
      if (!text || !text.trim()) return;
      body = { note: text.trim() };
    }
    Ivig.post("/api/alerts/" + encodeURIComponent(alertId) + "/" + kind, body).then(function (response) {
      if (response.status === 401) { window.location.assign("/login"); return null; }
      return response.json().then(function (data) {
        if (response.status === 202) {
          showError("");
          pending.set(alertId, kind);
        } else {
          showError("Not sent: " + (data.error || response.statusText));
        }
        if (state) render(state);
      });
    }).catch(function () { showError("Not sent: the console is unreachable; try again."); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelector("#open-alerts tbody").addEventListener("click", function (event) {
      const target = event.target.closest("button[data-kind]");
      if (!target || target.disabled) return;
      const row = target.closest("tr.alert-row");
      send(row.getAttribute("data-alert-id"), target.getAttribute("data-kind"));
    });
    state = Ivig.liveAlerts(function (current, view) {
      if (view) pending.delete(view.alert_id);
      else pending.clear();
      render(current);
    });
    window.setInterval(function () {
      const now = Date.now();
      document.querySelectorAll("#open-alerts td.age").forEach(function (cell) {
        cell.textContent = Ivig.age(cell.getAttribute("data-since"), now);
      });
    }, 15000);
  });
})();
