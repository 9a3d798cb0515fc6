/* ivigwatch caseload board: one row per patient infusing or inside the post-infusion window (and any
   patient with an open incident), in the server's order (what needs a look first; README "Caseload
   board"). Follows /api/board/stream: `snapshot` and `board` both carry the whole board; times are
   the server's (its clock is the rules' clock), so the page computes nothing but text. */
"use strict";

(function () {
  const Ivig = window.Ivig;
  const el = Ivig.el;
  const SEVERITY_RANK = { info: 0, warning: 1, urgent: 2, critical: 3 };

  function since(minutes) {
    if (minutes === null || minutes === undefined) return "none yet";
    if (minutes < 1) return "just now";
    const m = Math.floor(minutes);
    if (m < 60) return m + " min ago";
    return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min ago";
  }

  function span(minutes) {
    const m = Math.floor(Math.abs(minutes));
    return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
  }

  function patientCell(row) {
    const cell = el("td", { className: "patient" });
    if (row.session_id) {
      cell.appendChild(el("a", { href: "/sessions/" + encodeURIComponent(row.session_id), text: row.patient_id }));
      cell.appendChild(el("div", { className: "sub", text: row.session_id + (row.product ? " · " + row.product : "") }));
    } else {
      cell.appendChild(el("span", { text: row.patient_id }));
    }
    return cell;
  }

  function phaseCell(row) {
    const text = row.phase ? Ivig.words(row.phase) + (row.paused ? " (paused)" : "") : "—";
    const sub = row.stop ? "stopped " + Ivig.clock(row.stop) : (row.start ? "started " + Ivig.clock(row.start) : "");
    return el("td", { className: "phase" }, [el("span", { text: text }), sub ? el("div", { className: "sub", text: sub }) : null]);
  }

  function rateCell(row) {
    const rate = row.rate_ml_per_h === null || row.rate_ml_per_h === undefined ? "—" : row.rate_ml_per_h + " mL/h";
    const step = row.minutes_since_rate_step === null || row.minutes_since_rate_step === undefined ? "no rate step"
      : "step " + since(row.minutes_since_rate_step);
    return el("td", { className: "rate" + (row.recent_rate_step ? " recent-step" : "") }, [
      el("span", { text: rate }), el("div", { className: "sub", text: step }),
    ]);
  }

  function vitalsCell(row) {
    return el("td", { className: "last-vitals" }, [
      el("span", { text: since(row.minutes_since_vitals) }),
      row.last_vitals ? el("div", { className: "sub", text: "at " + Ivig.clock(row.last_vitals) }) : null,
    ]);
  }

  function nextCell(row) {
    const status = row.vitals_status;
    const left = row.minutes_to_next_vitals;
    let text = "—";
    if (status === "ok") text = "in " + span(left);
    else if (status === "due") text = "due now (" + span(left) + ")";
    else if (status === "overdue") text = "OVERDUE " + span(left);
    else if (status === "done") text = "no set due";
    const sub = [];
    if (row.next_vitals_due && status !== "done") sub.push(Ivig.clock(row.next_vitals_due) + " · " + row.next_vitals_set);
    if (row.next_checkin_due) sub.push("day-" + row.next_checkin_day + " check-in " + Ivig.clock(row.next_checkin_due));
    return el("td", { className: "next-vitals vitals-" + (status || "none") }, [
      el("span", { text: text }), sub.length ? el("div", { className: "sub", text: sub.join(" · ") }) : null,
    ]);
  }

  function incidentsCell(row) {
    return el("td", { className: "incidents" }, row.incidents.map(function (i) {
      return el("div", { className: "incident sev-" + i.severity + (i.needs_look ? " needs-look" : ""),
        "data-alert-id": i.alert_id, title: i.title }, [
        el("span", { className: "badge", text: i.severity }),
        el("span", { text: " " + i.conditions.map(Ivig.words).join(", ") + " · " + i.status }),
      ]);
    }));
  }

  function settingsCell(row) {
    // the patient's limits, snoozes and quiets after a resolution in force now (each says until when)
    return el("td", { className: "settings" }, (row.in_force || []).map(function (s) {
      return el("div", { className: "setting setting-" + s.kind, "data-key": s.key, text: s.text });
    }));
  }

  function noteCell(row) {
    return el("td", { className: "note", text: row.note ? row.note.by + ": " + row.note.note : "" });
  }

  function worst(row) {
    return row.incidents.reduce(function (best, i) {
      return best === null || SEVERITY_RANK[i.severity] > SEVERITY_RANK[best] ? i.severity : best;
    }, null);
  }

  function boardRow(row) {
    const sev = worst(row);
    const tr = el("tr", { className: "board-row tier-" + row.tier + (sev ? " sev-" + sev : ""),
      "data-patient-id": row.patient_id }, [
      patientCell(row), phaseCell(row), rateCell(row), vitalsCell(row), nextCell(row), incidentsCell(row), settingsCell(row),
      el("td", { className: "owner", text: row.owner || "" }), noteCell(row),
    ]);
    return tr;
  }

  function render(board) {
    const body = document.querySelector("#board tbody");
    body.replaceChildren(...board.rows.map(boardRow));
    document.getElementById("board-count").textContent = String(board.rows.length);
    document.getElementById("board-empty").hidden = board.rows.length > 0;
    document.getElementById("board-now").textContent = "as of " + Ivig.clock(board.now);
  }

  function follow() {
    const connection = document.getElementById("connection");
    let source = null;
    let leaving = false;

    function show(text, live) {
      connection.textContent = text;
      connection.classList.toggle("live", live);
    }

    function onBoard(event) {
      const board = JSON.parse(event.data);
      render(board);
      show(board.status === "loading" ? "loading…" : "live", board.status !== "loading");
    }

    function connect() {
      source = new window.EventSource("/api/board/stream");
      source.addEventListener("snapshot", onBoard);
      source.addEventListener("board", onBoard);
      source.addEventListener("end", function () {
        source.close();
        show("logged out", false);
        if (!leaving) window.location.assign("/login");
      });
      source.onerror = function () {
        show("reconnecting…", false);
        if (source.readyState === window.EventSource.CLOSED) {
          window.fetch("/api/board", { credentials: "same-origin" }).then(function (r) {
            if (r.status === 401) window.location.assign("/login");
            else window.setTimeout(connect, 3000);
          }).catch(function () { window.setTimeout(connect, 3000); });
        }
      };
    }

    window.addEventListener("beforeunload", function () { leaving = true; });
    window.addEventListener("submit", function (event) {
      if (event.target && event.target.getAttribute("action") === "/logout") leaving = true;
    }, true);
    connect();
  }

  document.addEventListener("DOMContentLoaded", follow);
})();
