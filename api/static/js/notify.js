// New-alert sound and desktop notification (issue #17): a top-bar toggle the operator turns on
// (it asks the browser's permission; remembered in localStorage), then each new alert arriving on
// the live stream rings by its rule's priority — high/urgent a repeated two-note tone and a
// notification that stays until clicked, normal one tone, low nothing. Never for the alerts already
// there when the console started, nor for one already decided by the time it is looked at.
import * as API from "./api.js";
import { t } from "./i18n.js";
import { onLive, store } from "./state.js";
import { h, toast, typeName } from "./util.js";

const KEY = "cw.alerts";
const seen = new Set();
let floor = null;  // the newest event id when the console started: that one and older never ring
let audio = null;

/** Whether the operator turned alerts on (localStorage "cw.alerts" = "on"). */
export function alertsOn() { return localStorage.getItem(KEY) === "on"; }

/** The priority of an event: its rule's case policy (low, normal, high, urgent); normal when unknown. */
export function priorityOf(event) {
  const rule = (store.cameraById.get(event.camera_id)?.rules || []).find((r) => r.id === event.rule_id);
  return rule?.case?.priority || "normal";
}

/** What an alert of `priority` does: tones to play (Hz each), and whether its notification stays; null: nothing. */
export function alarmFor(priority) {
  if (priority === "high" || priority === "urgent") return { tones: [988, 740, 988, 740, 988, 740], stays: true };
  if (priority === "normal") return { tones: [880], stays: false };
  return null;
}

function audioContext() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return null;
  if (!audio) audio = new Context();
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

/** Play `tones` (Hz) one after the other, 0.18 s each with a short gap: generated, no audio file. */
function ring(tones) {
  const context = audioContext();
  if (!context) return;
  const start = context.currentTime + 0.02;
  tones.forEach((hz, i) => {
    const at = start + i * 0.24;
    const oscillator = context.createOscillator(), gain = context.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = hz;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
    oscillator.connect(gain);
    gain.connect(context.destination);
    oscillator.start(at);
    oscillator.stop(at + 0.2);
  });
}

function notification(event, stays) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const camera = store.cameraById.get(event.camera_id);
  const place = [camera?.district, camera?.street].filter(Boolean).join(" · ");
  const note = new Notification(`${t("q.new")}：${typeName(event.type)}`, {
    body: [camera?.name || event.camera_id, place].filter(Boolean).join(" · "),
    tag: `citywatch-event-${event.id}`, requireInteraction: stays, silent: true,
  });
  note.onclick = () => { window.focus(); location.hash = "#/queue"; note.close(); };
}

async function onMessage(message) {
  if (message.kind !== "event" || !alertsOn() || !store.user || floor === null) return;
  const id = message.data?.id;
  if (typeof id !== "number" || id <= floor || seen.has(id)) return;
  seen.add(id);
  const event = await API.getEvent(id);
  if (event.review_status !== "pending") return;  // decided already (another operator, a bulk review)
  const alarm = alarmFor(priorityOf(event));
  if (!alarm) return;
  ring(alarm.tones);
  notification(event, alarm.stays);
}

/** After sign-in: only alerts newer than the newest one there now may ring. */
export async function startAlerts() {
  floor = null;
  try {
    const newest = API.items(await API.listEvents({ limit: 1 }))[0];
    floor = newest ? newest.id : 0;
  } catch { floor = null; }  // the connection banner says why; no alert rings until the next sign-in
}

function drawToggle(button) {
  const on = alertsOn();
  button.textContent = t(on ? "al.on" : "al.off");
  button.title = t("al.hint");
  button.setAttribute("aria-pressed", String(on));
  button.classList.toggle("on", on);
}

async function toggle(button) {
  if (alertsOn()) {
    localStorage.removeItem(KEY);
  } else {
    localStorage.setItem(KEY, "on");
    audioContext();  // created in the click, so the browser lets it play later
    if ("Notification" in window && Notification.permission === "default") {
      const answer = await Notification.requestPermission();
      if (answer !== "granted") toast(t("al.denied"));
    } else if (!("Notification" in window) || Notification.permission === "denied") toast(t("al.denied"));
  }
  drawToggle(button);
}

/** The toggle in the top bar (before the language button) and the live listener; once, at start. */
export function mountAlerts() {
  const bar = document.getElementById("topbar");
  if (!bar || document.getElementById("alerts")) return;
  const button = h("button#alerts.ghost.alerts", { type: "button", onclick: () => toggle(button) });
  drawToggle(button);
  bar.insertBefore(button, document.getElementById("lang"));
  // a reload keeps the choice, but the browser lets audio start only after the operator touches the page
  const unlock = () => { if (alertsOn()) audioContext(); };
  document.addEventListener("pointerdown", unlock, { once: true });
  document.addEventListener("keydown", unlock, { once: true });
  onLive((message) => { onMessage(message).catch((err) => console.warn("alert", err)); });
}

/** Redraw the toggle in the current language. */
export function translateAlerts() {
  const button = document.getElementById("alerts");
  if (button) drawToggle(button);
}
