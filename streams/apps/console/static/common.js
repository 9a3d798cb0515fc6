/* ivigwatch console: shared by every page. The critical alert sound (WebAudio, mute kept in
   localStorage), the live alert stream (SSE) and small formatting helpers. No libraries. */
"use strict";

window.Ivig = (function () {
  const MUTE_KEY = "ivigwatch.mute";
  const ALARM_REPEAT_MS = 10000;
  const SEVERITY_RANK = { info: 0, warning: 1, urgent: 2, critical: 3 };
  let audioCtx = null;
  let alarmTimer = null;

  function isMuted() {
    try { return window.localStorage.getItem(MUTE_KEY) === "1"; } catch (e) { return false; }
  }

  function setMuted(muted) {
    try { window.localStorage.setItem(MUTE_KEY, muted ? "1" : "0"); } catch (e) { /* private mode */ }
    showMute();
  }

  function audio() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!audioCtx) audioCtx = new Ctx();
    if (audioCtx.state === "suspended") audioCtx.resume().catch(function () {});
    return audioCtx;
  }

  /* Two short high beeps: the critical alert sound. */
  function beep() {
    if (isMuted()) return;
    const ctx = audio();
    if (!ctx) return;
    const t = ctx.currentTime;
    [0, 0.3].forEach(function (delay) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, t + delay);
      gain.gain.exponentialRampToValueAtTime(0.25, t + delay + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + delay + 0.22);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(t + delay);
      osc.stop(t + delay + 0.25);
    });
    showMute();
  }

  /* The alarm sounds now and every 10 s while an open critical alert is not acknowledged. */
  function setAlarm(on, fresh) {
    if (on && !alarmTimer) {
      beep();
      alarmTimer = window.setInterval(beep, ALARM_REPEAT_MS);
    } else if (on && fresh) {
      beep();
    } else if (!on && alarmTimer) {
      window.clearInterval(alarmTimer);
      alarmTimer = null;
    }
    document.body.classList.toggle("alarm", Boolean(on));
    showMute();
  }

  function showMute() {
    const button = document.getElementById("mute");
    if (!button) return;
    const muted = isMuted();
    button.setAttribute("aria-pressed", muted ? "true" : "false");
    button.textContent = muted ? "Sound muted" : "Sound on";
    button.classList.toggle("muted", muted);
    const blocked = !muted && alarmTimer !== null && (!audioCtx || audioCtx.state !== "running");
    button.classList.toggle("blocked", blocked);
    button.title = blocked ? "The browser holds the sound back: click anywhere to allow it"
      : (muted ? "Unmute the critical alert sound" : "Mute the critical alert sound");
  }

  function needsAlarm(view) {
    return view.severity === "critical" && (view.status === "firing" || view.status === "escalated");
  }

  /* The server's order (alertbook.look_order: what needs a look first, then critical first, then the
     oldest), else severity then age as before. */
  function openOrder(a, b) {
    if (a.order && b.order && a.order !== b.order) return a.order < b.order ? -1 : 1;
    const bySeverity = SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity];
    if (bySeverity) return bySeverity;
    const byAge = Date.parse(a.first_fired) - Date.parse(b.first_fired);
    if (byAge) return byAge;
    return a.alert_id < b.alert_id ? -1 : (a.alert_id > b.alert_id ? 1 : 0);
  }

  function resolvedOrder(a, b) {
    const byTime = Date.parse(b.ts) - Date.parse(a.ts);
    if (byTime) return byTime;
    return a.alert_id < b.alert_id ? 1 : (a.alert_id > b.alert_id ? -1 : 0);
  }

  /* Follows /api/stream. The state only ever changes from the server's messages:
     `snapshot` replaces it, `alert` replaces one alert's view. onChange(state, view|null, was):
     `was` is the alert's view before this one (undefined when it was not open). */
  function liveAlerts(onChange) {
    const state = { open: new Map(), resolved: [] };
    const connection = document.getElementById("connection");
    let source = null;

    function showConnection(text, live) {
      if (!connection) return;
      connection.textContent = text;
      connection.classList.toggle("live", live);
    }

    function alarm(fresh) {
      setAlarm(Array.from(state.open.values()).some(needsAlarm), fresh);
    }

    function onSnapshot(event) {
      const data = JSON.parse(event.data);
      state.open = new Map(data.open.map(function (v) { return [v.alert_id, v]; }));
      state.resolved = data.resolved;
      showConnection("live", true);
      onChange(state, null);
      alarm(false);
    }

    function onAlert(event) {
      const view = JSON.parse(event.data);
      const was = state.open.get(view.alert_id);
      if (view.status === "resolved") {
        state.open.delete(view.alert_id);
        state.resolved = [view].concat(state.resolved.filter(function (v) {
          return v.alert_id !== view.alert_id;
        })).sort(resolvedOrder).slice(0, 50);
      } else {
        state.open.set(view.alert_id, view);
      }
      onChange(state, view, was);
      const fresh = needsAlarm(view) && (!was || !needsAlarm(was) || was.escalation_level !== view.escalation_level);
      alarm(fresh);
    }

    /* The session ended (logged out here or in another tab, or expired): the server closes the
       stream after this event, so stop following it and go to the login form. */
    function onEnd() {
      source.close();
      showConnection("logged out", false);
      setAlarm(false, false);
      // This tab's own logout is already navigating: a second navigation would abort it.
      if (!leaving) window.location.assign("/login");
    }

    function connect() {
      source = new window.EventSource("/api/stream");
      source.addEventListener("snapshot", onSnapshot);
      source.addEventListener("alert", onAlert);
      source.addEventListener("end", onEnd);
      source.onerror = function () {
        showConnection("reconnecting…", false);
        if (source.readyState === window.EventSource.CLOSED) {
          window.fetch("/api/alerts", { credentials: "same-origin" }).then(function (r) {
            if (r.status === 401) window.location.assign("/login");
            else window.setTimeout(connect, 3000);
          }).catch(function () { window.setTimeout(connect, 3000); });
        }
      };
    }

    let leaving = false;
    window.addEventListener("beforeunload", function () { leaving = true; });
    window.addEventListener("submit", function (event) {
      if (event.target && event.target.getAttribute("action") === "/logout") leaving = true;
    }, true);

    connect();
    return state;
  }

  function post(url, body) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Requested-With": "ivigwatch", "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
  }

  function age(iso, now) {
    const minutes = Math.floor(((now || Date.now()) - Date.parse(iso)) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + " h " + String(minutes % 60).padStart(2, "0") + " min";
    return Math.floor(hours / 24) + " days";
  }

  function clock(iso) {
    const d = new Date(iso);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function words(text) {
    return String(text || "").replace(/_/g, " ");
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  document.addEventListener("DOMContentLoaded", function () {
    showMute();
    const button = document.getElementById("mute");
    if (button) button.addEventListener("click", function () { setMuted(!isMuted()); if (!isMuted()) audio(); });
    document.addEventListener("click", function () { if (!isMuted()) { audio(); showMute(); } });
    window.addEventListener("storage", showMute);
  });

  return { beep: beep, liveAlerts: liveAlerts, post: post, age: age, clock: clock, words: words, el: el,
           openOrder: openOrder, isMuted: isMuted };
})();
