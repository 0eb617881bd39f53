// Shared state of the console, read by the shell and the pages: the store, role checks, the
// live-message fan-out and the camera and mode refreshes. It imports no page and not app.js: what
// only the shell can do (sign out, draw the mode button) app.js hands in with connectShell.
import * as API from "./api.js";
import { fmtDuration, getLang, t } from "./i18n.js";
import { h } from "./util.js";

const listeners = new Set();
const shell = { signOut() {}, renderMode() {}, restored() {} };

/** Shared state of the shell, read by the pages. */
export const store = { user: null, mode: null, cameras: [], cameraById: new Map(), live: false, pending: 0 };

/** The shell's own parts that state here calls back ({signOut, renderMode, restored}); app.js sets them before it starts. */
export function connectShell(hooks) { Object.assign(shell, hooks); }

export function can(action) {
  const role = store.user?.role || "viewer";
  if (action === "admin") return role === "admin";
  return role === "operator" || role === "admin";
}
/** Subscribe to live messages ({kind, data, at}); returns an unsubscribe function. */
export function onLive(fn) { listeners.add(fn); return () => listeners.delete(fn); }
/** Hand a live message to every subscriber; one that throws does not stop the others. */
export function notify(message) {
  for (const fn of listeners) { try { fn(message); } catch (err) { console.warn("live listener", err); } }
}

export async function refreshCameras() {
  try {
    store.cameras = await API.listCameras();
    store.cameraById = new Map(store.cameras.map((c) => [c.id, c]));
  } catch (err) { if (err.status === 401) shell.signOut(); }
  return store.cameras;
}

export async function refreshMode() {
  try { store.mode = await API.getMode(); } catch { store.mode = store.mode || null; }
  shell.renderMode();
}

// ---- the connection to the server (issue #17) ----
// Every API answer counts as contact (api.js reports it); a failed fetch, or the live stream
// erroring and a probe then failing, marks the connection lost: a banner, the page dimmed, writes
// refused at once. A probe every 2 s while lost; the first answer restores it and the shell
// refreshes everything (shell.restored).
const PROBE_MS = 2000;
const link = { state: "ok", lastContact: Date.now(), probe: null, clock: null };
API.reachability.report = (ok) => { if (ok) connectionUp(); else connectionLost(); };

/** The live stream erred: ask the server at once whether it is still there. */
export function checkConnection() { API.whoAmI().catch(() => {}); }

function banner() {
  let el = document.getElementById("connection-banner");
  if (!el) {
    el = h("div#connection-banner", { role: "alert", hidden: true }, h("span.connection-text"), " ", h("span.connection-since"));
    const main = document.getElementById("main");
    main ? main.before(el) : document.body.prepend(el);
  }
  return el;
}
function drawBanner() {
  const el = banner();
  el.querySelector(".connection-text").textContent = t("conn.lost");
  const seconds = Math.max(0, Math.round((Date.now() - link.lastContact) / 1000));
  el.querySelector(".connection-since").textContent = `${t("conn.since")} ${fmtDuration(seconds)}${getLang() === "zh" ? "" : " "}${t("ago")}`;
}

export function connectionLost() {
  if (link.state === "lost") return;
  link.state = "lost";
  document.body.dataset.connection = "lost";
  drawBanner();
  banner().hidden = false;
  link.clock = setInterval(drawBanner, 1000);
  link.probe = setInterval(checkConnection, PROBE_MS);
}

function connectionUp() {
  link.lastContact = Date.now();
  if (link.state === "ok") return;
  link.state = "ok";
  document.body.dataset.connection = "ok";
  clearInterval(link.clock);
  clearInterval(link.probe);
  banner().hidden = true;
  Promise.resolve().then(() => shell.restored()).catch((err) => console.warn("restore", err));
}
export function isConnected() { return link.state === "ok"; }

// ---- pending alerts in the page title ----
let pendingTimer = null;
/** Show `count` pending alerts in the title ("(3) 城管智能巡查"), none when zero. */
export function setPending(count) {
  store.pending = count;
  const base = t("brand");
  document.title = count > 0 ? `(${count}) ${base}` : base;
}
/** Count the pending alerts on the server (soon after a live message says they changed). */
export function refreshPending({ soon = false } = {}) {
  clearTimeout(pendingTimer);
  const run = async () => {
    try {
      const page = await API.listEvents({ review_status: "pending", limit: 500 });
      setPending(page && typeof page.total === "number" ? page.total : API.items(page).length);
    } catch { /* kept as it was; the connection banner says why */ }
  };
  if (soon) pendingTimer = setTimeout(run, 300); else return run();
}
onLive((message) => {
  if (message.kind === "event" || (message.kind === "change" && /^\/api\/events\/\d+\/review/.test(message.data?.path || ""))) refreshPending({ soon: true });
});
