/* ivigwatch console page: open alerts and recently resolved alerts, live. An open incident is one row
   (tbody.incident-group) with its member alerts under it; other alerts are rows on their own. What
   needs a look comes first (the server's `order`). A page into an incident already acknowledged is
   marked "new" (row mark, banner div#new-pages, one beep) until someone acknowledges it again.
   Buttons send a nurse action (on an incident row: naming the incident); a row changes only when
   the lifecycle agent's message arrives. Only the actions of the user's role have buttons. */
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

  /* What this user's role may do (body[data-actions], from the server's permission table): the
     buttons of other actions are not drawn (an analyst sees none; the server refuses them anyway). */
  const allowed = new Set((document.body.dataset.actions || "").split(" ").filter(Boolean));

  function button(kind, label, disabled) {
    if (!allowed.has(kind)) return null;
    const b = el("button", { type: "button", className: kind, "data-kind": kind, text: label });
    b.disabled = Boolean(disabled);
    return b;
  }

  function isIncident(view) {
    return view.condition === "incident";
  }

  /* The open incident a member alert is shown under (null: the alert is a row on its own). */
  function headOf(view, open) {
    if (!view.incident_id || isIncident(view)) return null;
    const head = open.get(view.incident_id);
    return head && isIncident(head) ? head : null;
  }

  function newMark(text) {
    return el("span", { className: "new-mark", text: text || "NEW since acknowledgement" });
  }

  /* Members and alerts of an incident: whether this alert's messages paged, and whether it is new. */
  function memberMarks(view) {
    if (!view.incident_id || isIncident(view)) return [];
    return [
      view.paged_at ? el("span", { className: "paged-mark", text: "paged " + Ivig.clock(view.paged_at),
        title: "Paged a nurse at " + new Date(view.paged_at).toLocaleString() })
        : el("span", { className: "not-paged", text: "not paged",
          title: "Shown in the incident without paging (pending a repeat, covered, or paged by the incident)" }),
      view.new_after_ack ? newMark() : null,
    ];
  }

  /* Who acknowledged: the message's nurse; for an incident back to firing, who had acknowledged it. */
  function statusCell(view) {
    const names = (view.acted_by || []).join(", ");
    let who = "";
    if (view.status === "acknowledged" && view.by) who = "acknowledged by " + view.by;
    else if (isIncident(view) && view.new_after_ack && names) who = "acknowledged earlier by " + names;
    else if (isIncident(view) && names) who = "acted: " + names;
    const owner = isIncident(view) && view.owner ? "owner: " + view.owner : "";
    return el("td", { className: "severity" }, [el("span", { className: "badge", text: view.severity }),
      el("div", { className: "sub status", text: view.status }),
      who ? el("div", { className: "sub acked-by", text: who }) : null,
      owner ? el("div", { className: "sub owner", text: owner }) : null]);
  }

  function incidentConditionCell(view, members) {
    const n = members.length;
    return el("td", { className: "condition" }, [
      el("span", { className: "condition-name", text: "incident" }),
      el("span", { className: "member-count", text: n + (n === 1 ? " alert" : " alerts") }),
      groupIsNew(view, members) ? newMark() : null,
      el("div", { className: "sub title", text: view.title }),
    ]);
  }

  function memberConditionCell(view) {
    return el("td", { className: "condition" }, [
      el("span", { className: "condition-name", text: view.condition }),
    ].concat(memberMarks(view), [el("div", { className: "sub title", text: view.title })]));
  }

  function groupIsNew(head, members) {
    return Boolean(head.new || head.new_after_ack || members.some(function (m) { return m.new_after_ack; }));
  }

  function openRow(view, now, kind, members) {
    const sent = pending.get(view.alert_id);
    const isNew = kind === "incident" ? groupIsNew(view, members) : Boolean(view.new_after_ack);
    const attrs = {
      className: "alert-row sev-" + view.severity + (view.severity === "critical" ? " critical" : "") +
        (sent ? " pending" : "") + (kind === "incident" ? " incident-row" : "") +
        (kind === "member" ? " member-row" : "") + (isNew ? " new" : ""),
      "data-alert-id": view.alert_id, "data-severity": view.severity, "data-status": view.status,
      "data-new": isNew ? "true" : "false",
    };
    if (view.incident_id) attrs["data-incident-id"] = view.incident_id;
    const row = el("tr", attrs);
    const level = view.escalation_level || 0;
    const word = lastWord(view);
    row.append(
      patientCell(view),
      kind === "incident" ? incidentConditionCell(view, members)
        : (view.incident_id ? memberConditionCell(view) : conditionCell(view)),
      statusCell(view),
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
        kind === "incident" && view.status === "acknowledged" ? button("handover", "Hand over", sent === "handover") : null,
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

  /* The open list as rows (open: alert id -> view): each open incident with its members under it,
     every other alert alone. The same folding as alertbook.AlertBook.groups. */
  function groups(open) {
    const members = new Map();
    const tops = [];
    open.forEach(function (view) {
      const head = headOf(view, open);
      if (!head) { tops.push(view); return; }
      if (!members.has(head.alert_id)) members.set(head.alert_id, []);
      members.get(head.alert_id).push(view);
    });
    return tops.sort(Ivig.openOrder).map(function (top) {
      return { head: top, members: (members.get(top.alert_id) || []).sort(Ivig.openOrder) };
    });
  }

  function groupBody(group, now) {
    const head = group.head;
    if (!isIncident(head)) {
      return el("tbody", { className: "single", "data-group": head.alert_id }, [openRow(head, now, "single", [])]);
    }
    const isNew = groupIsNew(head, group.members);
    return el("tbody", {
      className: "incident-group" + (isNew ? " new" : ""), "data-group": head.alert_id,
      "data-incident-id": head.alert_id, "data-new": isNew ? "true" : "false",
    }, [openRow(head, now, "incident", group.members)].concat(group.members.map(function (m) {
      return openRow(m, now, "member", []);
    })));
  }

  /* The banner a nurse cannot miss: every incident with a page since its acknowledgement. */
  function newBanner(list) {
    const banner = document.getElementById("new-pages");
    const fresh = list.filter(function (g) { return isIncident(g.head) && groupIsNew(g.head, g.members); });
    banner.replaceChildren();
    banner.hidden = fresh.length === 0;
    if (!fresh.length) return 0;
    banner.appendChild(el("strong", { text: "New since acknowledgement" }));
    banner.appendChild(el("ul", {}, fresh.map(function (g) {
      const what = g.members.filter(function (m) { return m.new_after_ack; }).map(function (m) {
        return m.condition + " (" + m.severity + ")";
      });
      const patient = g.head.patient_id;
      const text = patient + ": " + (what.length ? what.join(", ") : "incident " + g.head.status) +
        " in incident " + g.head.alert_id + ", now " + g.head.status;
      const show = el("button", { type: "button", className: "show-incident", text: "Show" });
      show.addEventListener("click", function () {
        const row = document.querySelector('#open-alerts tr.incident-row[data-alert-id="' + CSS.escape(g.head.alert_id) + '"]');
        if (row) row.scrollIntoView({ block: "center" });
      });
      return el("li", { "data-incident-id": g.head.alert_id }, [el("span", { text: text + " " }), show]);
    })));
    return fresh.length;
  }

  function render(current) {
    const now = Date.now();
    const list = groups(current.open);
    const table = document.getElementById("open-alerts");
    table.querySelectorAll("tbody").forEach(function (body) { body.remove(); });
    const bodies = list.map(function (g) { return groupBody(g, now); });
    if (!bodies.length) bodies.push(el("tbody"));
    bodies.forEach(function (body) { table.appendChild(body); });
    document.querySelector("#resolved-alerts tbody").replaceChildren.apply(
      document.querySelector("#resolved-alerts tbody"), current.resolved.map(resolvedRow));
    document.getElementById("open-count").textContent = String(list.length);
    document.getElementById("no-open").hidden = list.length > 0;
    const fresh = newBanner(list);
    const critical = Array.from(current.open.values()).some(function (v) { return v.severity === "critical"; });
    document.title = (fresh ? "NEW · " : "") + (critical ? "CRITICAL · " : "") + list.length + " open · ivigwatch";
  }

  function showError(text) {
    const box = document.getElementById("action-error");
    box.textContent = text || "";
    box.hidden = !text;
  }

  const OUTCOMES = ["needed_action", "not_needed", "artefact"];

  /* The fields an action asks for (null: the nurse cancelled): a note's text; a handover's nurse and
     handoff note; an incident's outcome and the action taken (contract v2; the API refuses without). */
  function askFor(alertId, kind) {
    const incident = alertId.indexOf(":incident:") >= 0;
    function ask(question) {
      const text = window.prompt(question);
      return text && text.trim() ? text.trim() : null;
    }
    if (kind === "note") {
      const note = ask("Note on this " + (incident ? "incident" : "alert") + " (who you called, what was done):");
      return note && { note: note };
    }
    if (kind === "handover") {
      const to = ask("Hand this incident over to (their login name):");
      const note = to && ask("Handoff note for " + to + " (what is going on, what is left to do):");
      return note && { to: to, note: note };
    }
    if (kind === "resolve" && incident) {
      let outcome = ask("Outcome: needed_action, not_needed or artefact (device or measurement artefact)?");
      for (let tries = 0; outcome && OUTCOMES.indexOf(outcome) < 0 && tries < 2; tries++) {
        outcome = ask("Not an outcome. Type needed_action, not_needed or artefact:");
      }
      if (outcome && OUTCOMES.indexOf(outcome) < 0) {
        showError("Not sent: the outcome is needed_action, not_needed or artefact.");
        return null;
      }
      const taken = outcome && ask("Action taken (what was done):");
      return taken && { outcome: outcome, action_taken: taken };
    }
    return {};
  }

  function send(alertId, kind) {
    const body = askFor(alertId, kind);
    if (!body) return;
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
    document.getElementById("open-alerts").addEventListener("click", function (event) {
      const target = event.target.closest("button[data-kind]");
      if (!target || target.disabled) return;
      const row = target.closest("tr.alert-row");
      send(row.getAttribute("data-alert-id"), target.getAttribute("data-kind"));
    });
    state = Ivig.liveAlerts(function (current, view, was) {
      /* A sent action waits for the alert's next message; an incident's view is also sent again when
         one of its members changes, with the same message: that is not the answer. */
      if (!view) pending.clear();
      else if (!was || was.ts !== view.ts || was.status !== view.status) pending.delete(view.alert_id);
      render(current);
      if (view && view.new_after_ack && !(was && was.new_after_ack)) Ivig.beep();
    });
    window.setInterval(function () {
      const now = Date.now();
      document.querySelectorAll("#open-alerts td.age").forEach(function (cell) {
        cell.textContent = Ivig.age(cell.getAttribute("data-since"), now);
      });
    }, 15000);
  });
})();
