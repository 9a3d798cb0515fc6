// The patient app: log in with the app code, send vitals, symptoms, check-in and readiness answers
// through the gateway, and show what the care team's system sends on ivig.patient.v1 (a long poll).
// No library and no CDN; every text is set with textContent. Events keep their ids across retries,
// so a resend after a lost answer on a slow connection is dropped by the gateway as a duplicate.
"use strict";

const TOKEN_KEY = "ivigwatch-app-code";
const ANSWERED_KEY = "ivigwatch-checkins-answered";
const ALARM_FRESH_MINUTES = 60;
const SYMPTOM_GROUPS = [
  ["Common side effects", "common", [
    ["headache", "Headache"], ["rash", "Rash"], ["muscle_pain", "Muscle pain"], ["chills", "Chills"],
    ["fever", "Fever"], ["shortness_of_breath", "Short of breath"], ["nausea", "Nausea"],
  ]],
  ["Signs of a serious reaction", "serious", [
    ["hives", "Hives"], ["itching", "Itching"], ["flushing", "Flushing"],
    ["lip_or_tongue_swelling", "Lip or tongue swelling"], ["throat_tightness", "Tight throat"],
    ["wheezing", "Wheezing"], ["dizziness", "Dizzy"], ["fainting", "Fainting"], ["vomiting", "Vomiting"],
    ["abdominal_pain", "Belly pain"], ["confusion", "Confused"],
    ["swallowing_difficulty", "Hard to swallow"], ["weak_cough", "Weak cough"],
  ]],
  ["Signs to watch in the days after", "serious", [
    ["neck_stiffness", "Stiff neck"], ["photophobia", "Light hurts my eyes"], ["chest_pain", "Chest pain"],
    ["one_sided_weakness", "Weak on one side"], ["speech_difficulty", "Trouble speaking"],
    ["vision_change", "Trouble seeing"], ["limb_swelling", "Swollen leg or arm"],
    ["dark_urine", "Dark urine"], ["reduced_urination", "Passing little urine"],
  ]],
];
const VITAL_LABELS = {
  heart_rate: ["pulse", "/min"], spo2: ["oxygen", "%"], systolic_bp: ["BP top", ""],
  diastolic_bp: ["BP bottom", ""], temperature_c: ["temperature", " C"],
  respiratory_rate: ["breaths", "/min"], weight_kg: ["weight", " kg"],
};

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem(TOKEN_KEY), cursor: 0, epoch: "", seen: new Set(), me: null };

function answeredCheckins() {
  try { return new Set(JSON.parse(sessionStorage.getItem(ANSWERED_KEY) || "[]")); } catch { return new Set(); }
}

function eventId(prefix) {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return `app-${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function setStatus(text) { $("status").textContent = text; }

function clock(iso) {
  return new Date(iso).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers, cache: "no-store" });
  if (response.status === 401) { logout("Your app code is not valid any more: ask your care team for a new one."); }
  return response;
}

function pause(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

// Send events until the gateway has stored them (or refused them for good). Network errors, 429 and
// 5xx are retried with the same event ids: the gateway drops the copies it already stored.
async function send(events, what, quiet = false) {
  if (!quiet) { setStatus(`Sending ${what}...`); }
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await api("/v1/events", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(events),
      });
    } catch {
      response = null;
    }
    if (response && response.ok) { if (!quiet) { setStatus(`${what} sent.`); } return true; }
    if (response && response.status !== 429 && response.status < 500) {
      let detail = "";
      try { const problem = await response.json(); detail = problem.detail || problem.title || ""; } catch { /* none */ }
      setStatus(`${what} not sent: ${detail || response.status}`);
      return false;
    }
    setStatus(`Waiting for a connection to send ${what}...`);
    await pause(Math.min(30000, 2000 * (attempt + 1)));
  }
}

function nowIso() { return new Date().toISOString(); }

function showLogin(message) {
  $("home").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ANSWERED_KEY);
  Object.assign(state, { token: null, cursor: 0, epoch: "", seen: new Set(), me: null });
  $("message-list").replaceChildren();
  $("checkin").hidden = true;
  showLogin(message);
}

async function login(token) {
  state.token = token;
  let response;
  try { response = await api("/v1/me"); } catch { showLogin("No connection: try again."); return; }
  if (!response.ok) {
    showLogin(response.status === 403 ? "This code is not an app code." : "This code is not valid.");
    state.token = null;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("login").hidden = true;
  $("home").hidden = false;
  showMe(await response.json());
  poll();
}

function showMe(me) {
  state.me = me;
  const pump = me.pump;
  let text = "No infusion yet.";
  if (pump) {
    const rate = pump.rate ? ` at ${pump.rate} mL/h` : "";
    text = {
      start: `Running${rate} since ${clock(pump.ts)}.`, rate_change: `Running${rate} since ${clock(pump.ts)}.`,
      resume: `Running${rate} since ${clock(pump.ts)}.`, status: `Running${rate} (${clock(pump.ts)}).`,
      pause: `Paused at ${clock(pump.ts)}.`, stop: `Finished at ${clock(pump.ts)}.`,
    }[pump.action] || text;
  }
  $("infusion").textContent = text;
  const list = $("reading-list");
  list.replaceChildren();
  for (const reading of me.readings) {
    const item = document.createElement("li");
    const parts = Object.entries(reading.values).map(([name, value]) => {
      const [label, unit] = VITAL_LABELS[name] || [name, ""];
      return `${label} ${value}${unit}`;
    });
    item.textContent = `${clock(reading.ts)}: ${parts.join(", ")}`;
    list.append(item);
  }
  if (!me.readings.length) { const none = document.createElement("li"); none.textContent = "None yet."; list.append(none); }
  $("alarm-emergency").href = `tel:${me.emergency_number}`;
  $("alarm-emergency").textContent = `Call emergency services (${me.emergency_number})`;
  if (me.care_team_phone) {
    $("alarm-call").href = `tel:${me.care_team_phone}`;
    $("alarm-call").textContent = `Call your care team (${me.care_team_phone})`;
    $("alarm-call").hidden = false;
  }
}

async function refreshMe() {
  try {
    const response = await api("/v1/me");
    if (response.ok) { showMe(await response.json()); }
  } catch { /* the next send or poll tells */ }
}

async function poll() {
  while (state.token) {
    let body = null;
    try {
      const query = `after=${state.cursor}&epoch=${encodeURIComponent(state.epoch)}&wait=20`;
      const response = await api(`/v1/messages?${query}`);
      if (response.ok) { body = await response.json(); }
      else if (response.status === 401 || response.status === 403) { return; }
    } catch { body = null; }
    if (!body) { $("connection").textContent = "No connection: retrying..."; await pause(3000); continue; }
    $("connection").textContent = "";
    if (body.epoch !== state.epoch) { state.epoch = body.epoch; }
    state.cursor = body.next;
    for (const item of body.messages) { receive(item.message); }
  }
}

function receive(message) {
  if (state.seen.has(message.message_id)) { return; }
  state.seen.add(message.message_id);
  const item = document.createElement("li");
  const when = document.createElement("time");
  when.dateTime = message.ts;
  when.textContent = clock(message.ts);
  item.append(when, document.createTextNode(message.text));
  item.dataset.kind = message.kind;
  $("message-list").prepend(item);
  if (message.kind === "measure_again" || message.kind === "vitals_due") {
    $("next").textContent = message.text;
    $("next").hidden = false;
    for (const name of message.vitals) { const input = $(`v-${name}`); if (input) { input.parentElement.classList.add("asked"); } }
  } else if (message.kind === "checkin") {
    showCheckin(message);
  } else if (message.kind === "readiness") {
    $("ready-answer").textContent = message.text;
    $("ready-answer").hidden = false;
  } else if (message.kind === "incident") {
    const fresh = Date.now() - new Date(message.ts).getTime() < ALARM_FRESH_MINUTES * 60000;
    if (fresh) { alarm(message); }
  }
}

function showCheckin(message) {
  if (answeredCheckins().has(message.checkin_id)) { return; }
  const section = $("checkin");
  section.dataset.checkinId = message.checkin_id;
  section.dataset.sessionId = message.session_id;
  $("checkin-title").textContent = message.reminder ? "Check-in (reminder)" : "Check-in";
  $("checkin-text").textContent = message.text;
  const box = $("checkin-questions");
  box.replaceChildren();
  for (const question of message.questions) {
    const row = document.createElement("div");
    row.className = "question";
    row.dataset.symptom = question.symptom || "";
    row.dataset.vital = question.vital || "";
    const label = document.createElement("label");
    if (question.vital) {
      label.textContent = question.text;
      const input = document.createElement("input");
      input.type = "number"; input.step = "0.1"; input.inputMode = "decimal"; input.name = question.id;
      input.id = `q-${question.id}`;
      label.append(input);
      row.append(label);
    } else {
      label.className = "check";
      const yes = document.createElement("input");
      yes.type = "checkbox"; yes.id = `q-${question.id}`;
      label.append(yes, document.createTextNode(` ${question.text}`));
      row.append(label);
      if (question.graded) {
        const grade = document.createElement("select");
        grade.id = `q-${question.id}-grade`;
        for (const [value, text] of [["mild", "Mild"], ["moderate", "Moderate"], ["severe", "Severe"]]) {
          const option = document.createElement("option");
          option.value = value; option.textContent = text;
          grade.append(option);
        }
        grade.value = "moderate";
        const gradeLabel = document.createElement("label");
        gradeLabel.textContent = "How bad?";
        gradeLabel.append(grade);
        row.append(gradeLabel);
      }
    }
    box.append(row);
  }
  section.hidden = false;
  section.scrollIntoView({ behavior: "smooth", block: "start" });
}

async function sendCheckin(event) {
  event.preventDefault();
  const section = $("checkin");
  const answer = {
    type: "checkin", event_id: eventId("checkin"), ts: nowIso(), session_id: section.dataset.sessionId,
    checkin_id: section.dataset.checkinId, symptoms: [],
  };
  for (const row of $("checkin-questions").children) {
    const input = row.querySelector("input");
    if (row.dataset.vital) {
      if (input.value !== "") { answer[row.dataset.vital] = Number(input.value); }
    } else if (input.checked) {
      const grade = row.querySelector("select");
      answer.symptoms.push({ symptom: row.dataset.symptom, severity: grade ? grade.value : "moderate" });
    }
  }
  if (await send([answer], "check-in answers")) {
    const answered = answeredCheckins();
    answered.add(answer.checkin_id);
    sessionStorage.setItem(ANSWERED_KEY, JSON.stringify([...answered]));
    section.hidden = true;
  }
}

async function sendVitals(event) {
  event.preventDefault();
  const reading = { type: "vitals", event_id: eventId("vitals"), ts: nowIso(), mode: "spot" };
  let any = false;
  for (const name of Object.keys(VITAL_LABELS)) {
    const value = $(`v-${name}`).value;
    if (value !== "") { reading[name] = Number(value); any = true; }
  }
  if (!any) { setStatus("Enter at least one value."); return; }
  if (await send([reading], "vitals")) {
    $("vitals-form").reset();
    $("next").hidden = true;
    for (const asked of document.querySelectorAll(".asked")) { asked.classList.remove("asked"); }
    refreshMe();
  }
}

async function sendSymptom(name, button) {
  const report = { type: "symptom", event_id: eventId("symptom"), ts: nowIso(), symptom: name, severity: "moderate" };
  if (await send([report], `"${button.textContent}"`)) { button.classList.add("sent"); }
}

async function sendReadiness(event) {
  event.preventDefault();
  const ids = ["feeling_unwell", "feverish", "well_hydrated", "premedication_taken", "epinephrine_at_hand"];
  const answers = { type: "readiness", event_id: eventId("ready"), ts: nowIso() };
  for (const name of ids) {
    const value = $(`r-${name}`).value;
    if (value === "") { setStatus("Answer every question before you start."); $(`r-${name}`).focus(); return; }
    answers[name] = { yes: true, no: false, none: null }[value];
  }
  await send([answers], "readiness answers");
}

let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.2;
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 1.2);
  } catch { /* the browser allows no sound yet */ }
  if (navigator.vibrate) { navigator.vibrate([400, 200, 400, 200, 400]); }
}

function alarm(message) {
  const box = $("alarm");
  box.className = message.severity === "critical" ? "critical" : "urgent";
  $("alarm-title").textContent = message.instructions ? "Do this now" : "Your nurse is calling";
  $("alarm-text").textContent = message.text;
  box.dataset.messageId = message.message_id;
  box.hidden = false;
  $("alarm-ok").focus();
  beep();
  send([{
    type: "message_seen", event_id: eventId("seen"), ts: nowIso(), session_id: message.session_id,
    message_id: message.message_id, incident_id: message.incident_id,
  }], "seen receipt", true);
}

function buildSymptoms() {
  const groups = $("symptom-groups");
  for (const [title, kind, symptoms] of SYMPTOM_GROUPS) {
    const group = document.createElement("div");
    group.className = `symptom-group ${kind}`;
    const heading = document.createElement("h3");
    heading.textContent = title;
    const taps = document.createElement("div");
    taps.className = "taps";
    for (const [name, label] of symptoms) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.dataset.symptom = name;
      button.addEventListener("click", () => sendSymptom(name, button));
      taps.append(button);
    }
    group.append(heading, taps);
    groups.append(group);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  buildSymptoms();
  $("login-form").addEventListener("submit", (event) => { event.preventDefault(); login($("token").value.trim()); });
  $("logout").addEventListener("click", () => logout(""));
  $("vitals-form").addEventListener("submit", sendVitals);
  $("checkin-form").addEventListener("submit", sendCheckin);
  $("ready-form").addEventListener("submit", sendReadiness);
  $("alarm-ok").addEventListener("click", () => { $("alarm").hidden = true; });
  if (state.token) { login(state.token); } else { showLogin(""); }
});
