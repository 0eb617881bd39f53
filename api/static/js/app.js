// The console shell and entry point: sign-in, navigation, the mode banner, the clock and the live
// stream. Nothing imports it; the shared state the pages read lives in state.js.
import * as API from "./api.js";
import { fmtDateTime, fmtShort, fmtTime, getLang, getTimeZone, setLang, setTimeZone, t, translate } from "./i18n.js";
import { can, checkConnection, connectShell, notify, refreshCameras, refreshMode, refreshPending, setPending, store } from "./state.js";
import { clear, errorText, h, modal, toast } from "./util.js";
import * as queue from "./queue.js";
import * as cases from "./cases.js";
import * as cameras from "./cameras.js";
import * as stats from "./stats.js";
import * as vehicles from "./vehicles.js";
import * as handover from "./handover.js";
import * as mapPage from "./map.js";
import * as suppressions from "./suppressions.js";
import { mountAlerts, startAlerts, translateAlerts } from "./notify.js";

const PAGES = { queue, cases, case: cases, cameras, camera: cameras, stats, vehicles, vehicle: vehicles };
PAGES.handover = handover;
PAGES.map = mapPage;
PAGES.suppressions = suppressions;

// ---- sign-in ----
function signInPage(message) {
  document.getElementById("topbar").hidden = true;
  const main = clear(document.getElementById("main"));
  const input = h("input#token", { name: "token", type: "password", autocomplete: "off", required: true, placeholder: "cw_…" });
  const username = h("input#username", { name: "username", autocomplete: "username", required: true });
  const password = h("input#password", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const error = h("p.error", message || "");
  const byPassword = h("form#signin-password-form", { onsubmit: async (e) => {
    e.preventDefault();
    try {
      const made = await API.signInWithPassword(username.value.trim(), password.value);
      API.setToken(made.token, { session: true });
      password.value = "";
      if (!(await start())) { error.textContent = t("signin.bad"); API.setToken(""); }
    } catch (err) {
      error.textContent = err.status === 429 ? t("signin.locked") : err.status === 401 ? t("signin.wrong") : errorText(err);
    }
  } },
  h("label", { for: "username" }, t("signin.username")), username,
  h("label", { for: "password" }, t("signin.password")), password,
  h("button.primary#signin-password", { type: "submit" }, t("signin.submit")));
  const anonymous = h("button.ghost#anonymous", { type: "button", hidden: true, onclick: async () => {
    API.setToken("");
    sessionStorage.setItem("cw.anonymous", "1");
    if (!(await start())) sessionStorage.removeItem("cw.anonymous");
  } }, t("signin.anonymous"));
  API.consoleConfig().then((config) => { anonymous.hidden = !config.anonymous_read; }).catch(() => {});
  const byToken = h("form#signin-token-form", { onsubmit: async (e) => {
    e.preventDefault();
    API.setToken(input.value.trim());
    if (!(await start())) { error.textContent = t("signin.bad"); API.setToken(""); }
  } },
  h("label", { for: "token" }, t("signin.token")), input,
  h("button.primary#signin", { type: "submit" }, t("signin.submit")),
  h("p.hint", t("signin.hint")));
  const language = h("button.ghost", { type: "button", onclick: () => { setLang(getLang() === "zh" ? "en" : "zh"); signInPage(); } }, getLang() === "zh" ? "English" : "中文");
  main.append(h("section.signin", h("div.signin-box",
    h("h1", t("signin.title")), byPassword, error,
    h("details.signin-token", h("summary", t("signin.useToken")), byToken),
    anonymous, h("p.hint", language))));
  username.focus();
}

function signOut() {
  if (API.isSession()) API.endSession().catch(() => {});  // the server forgets the session too
  API.setToken("");
  sessionStorage.removeItem("cw.anonymous");
  store.user = null;
  stopLive();
  setPending(0);
  location.hash = "";
  signInPage();
}

async function start() {
  if (!API.getToken() && sessionStorage.getItem("cw.anonymous") !== "1") return false;
  try {
    store.user = await API.whoAmI();
  } catch (err) {
    if (err.status === 401 || err.status === 403) return false;
    if (err.status !== 404) { toast(errorText(err), "error"); return false; }
    store.user = { name: "local", role: "admin" };  // no authentication configured on this server
  }
  try { const config = await API.consoleConfig(); setTimeZone(config.timezone); store.config = config; } catch { /* defaults */ }
  document.getElementById("topbar").hidden = false;
  document.body.dataset.role = store.user.role;
  document.getElementById("user").textContent = `${store.user.name} · ${t(`role.${store.user.role}`)}`;
  await Promise.all([refreshCameras(), refreshMode(), refreshPending(), startAlerts()]);
  startLive();
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/queue";
  else route();
  return true;
}

// ---- mode ----
function renderMode() {
  const button = document.getElementById("mode");
  const mode = store.mode?.mode || "normal";
  document.body.dataset.mode = mode;
  button.className = `mode ${mode}`;
  button.textContent = modeName(mode);
  const who = store.mode?.changed_by ? `${t("mode.by")}: ${store.mode.changed_by} · ${fmtDateTime(store.mode.changed_at)}` : "";
  button.title = who;
  button.dataset.changedBy = store.mode?.changed_by || "";
  button.disabled = !store.mode || !can("mode");
  document.getElementById("mode-by").textContent = store.mode?.changed_by ? `${store.mode.changed_by} · ${fmtShort(store.mode.changed_at)}` : "";
}
function modeName(name) { const s = t(`mode.${name}`); return s === name ? name : s; }

async function switchMode() {
  const current = store.mode?.mode || "normal";
  const modes = Object.keys(store.mode?.modes || { normal: "", flood: "" });
  const target = modes.find((m) => m !== current) || current;
  const choices = h("div.reasons", modes.filter((m) => m !== current).map((m) => h("label.reason",
    h("input", { type: "radio", name: "mode", value: m, checked: m === target }),
    h("span.mode-chip", { class: m }, modeName(m)), h("span.muted", store.mode?.modes?.[m] || ""))));
  const answer = await modal(t("mode.confirm"),
    h("div", h("p.big-mode", h("span.mode-chip", { class: current }, modeName(current)), " → ", h("span.mode-chip", { class: target }, modeName(target))),
      choices,
      store.mode?.changed_by ? h("p.muted", `${t("mode.by")}: ${store.mode.changed_by} · ${fmtDateTime(store.mode.changed_at)}`) : null),
    { okText: t("mode.switch"), danger: target === "flood" });
  if (!answer) return;
  const chosen = answer.mode || target;
  try {
    await API.setMode(chosen);
    await refreshMode();
    toast(`${t("mode.switched")} ${modeName(chosen)}`, "ok");
    notify({ kind: "mode", data: store.mode });
  } catch (err) { toast(errorText(err), "error"); }
}

/** The server answers again after an outage: refresh what the page shows, without a reload. */
async function restored() {
  if (!store.user) return;
  await Promise.all([refreshCameras(), refreshMode(), refreshPending()]);
  startLive();
  await route();
  toast(t("conn.restored"), "ok");
}

// ---- live stream ----
let source = null, retry = null, generation = 0;
async function startLive() {
  stopLive();
  const mine = ++generation;  // a newer start (a reconnect while this one waited) wins
  const dot = document.getElementById("live");
  const set = (on) => { store.live = on; dot.className = on ? "live on" : "live off"; dot.title = t(on ? "live.on" : "live.off"); };
  let ticket;
  try { ticket = (await API.api("/api/stream/ticket", { method: "POST" })).ticket; } catch (err) {
    set(false);
    if (err.status === 401) return signOut();
    if (mine === generation) retry = setTimeout(startLive, 3000);
    return;
  }
  if (!store.user || mine !== generation) return;
  source = new EventSource(`/api/stream?ticket=${encodeURIComponent(ticket)}`);
  source.onopen = () => set(true);
  // A ticket opens the stream once, so the browser's own reconnect would be refused: close it, ask
  // whether the server is there at all (the connection banner), and reconnect with a new ticket.
  source.onerror = () => {
    set(false);
    checkConnection();
    if (source) { source.close(); source = null; }
    clearTimeout(retry);
    retry = setTimeout(startLive, 2000);
  };
  for (const kind of ["hello", "event", "case", "change", "cameras"]) {
    source.addEventListener(kind, (e) => {
      let message;
      try { message = JSON.parse(e.data); } catch { return; }
      if (kind === "change" && message.data.path === "/api/mode") refreshMode().then(() => notify({ kind: "mode", data: store.mode }));
      notify(message);
    });
  }
}
function stopLive() { clearTimeout(retry); if (source) { source.close(); source = null; } }

// ---- routing ----
let current = null;
async function route() {
  if (!store.user) return;
  const [, name = "queue", arg] = location.hash.match(/^#\/([a-z]+)(?:\/(.+))?/) || [];
  const page = PAGES[name] || queue;
  if (current?.leave) current.leave();
  current = page;
  for (const a of document.querySelectorAll("#nav a")) {
    const owner = { case: "cases", camera: "cameras", vehicle: "vehicles" }[name] || name;
    a.classList.toggle("active", a.dataset.page === owner);
  }
  const main = clear(document.getElementById("main"));
  main.dataset.page = name;
  try {
    await page.render(main, { name, arg: arg && decodeURIComponent(arg) });
  } catch (err) {
    main.append(h("p.error", `${t("err.load")}: ${err.message}`));
  }
}

function tick() {
  const clock = document.getElementById("clock");
  if (clock) clock.textContent = `${fmtTime(new Date())} ${t(`tz.${getTimeZone()}`).split("/").pop()}`;  // 北京时间, else the zone's city
}

/** The shift handover page (交接班) joins the navigation last. */
function addHandoverLink() {
  const nav = document.getElementById("nav");
  if (!nav || nav.querySelector('[data-page="handover"]')) return;
  nav.append(h("a", { href: "#/handover", dataset: { page: "handover", i18n: "nav.handover" } }, t("nav.handover")));
}

/** The map page (一张图, issue #17) joins the navigation after the cameras. */
function addMapLink() {
  const nav = document.getElementById("nav");
  if (!nav || nav.querySelector('[data-page="map"]')) return;
  const link = h("a", { href: "#/map", dataset: { page: "map", i18n: "nav.map" } }, t("nav.map"));
  nav.insertBefore(link, nav.querySelector('[data-page="cameras"]')?.nextSibling || null);
}

/** The suppressions page (误报抑制, issue #18) joins the navigation for admins only (console.css hides it for others). */
function addSuppressionsLink() {
  const nav = document.getElementById("nav");
  if (!nav || nav.querySelector('[data-page="suppressions"]')) return;
  nav.append(h("a.admin-only", { href: "#/suppressions", dataset: { page: "suppressions", i18n: "nav.suppressions" } }, t("nav.suppressions")));
}

/** The vehicles page (parking enforcement by plate) joins the navigation before the statistics. */
function addVehiclesLink() {
  const nav = document.getElementById("nav");
  if (!nav || nav.querySelector('[data-page="vehicles"]')) return;
  const link = h("a", { href: "#/vehicles", dataset: { page: "vehicles", i18n: "nav.vehicles" } }, t("nav.vehicles"));
  nav.insertBefore(link, nav.querySelector('[data-page="stats"]'));
}

function init() {
  connectShell({ signOut, renderMode, restored });
  document.body.dataset.connection = "ok";
  addVehiclesLink();
  addSuppressionsLink();
  addHandoverLink();
  addMapLink();
  mountAlerts();
  setLang(getLang());
  translate();
  document.getElementById("lang").textContent = getLang() === "zh" ? "EN" : "中文";
  document.getElementById("lang").onclick = () => {
    setLang(getLang() === "zh" ? "en" : "zh");
    document.getElementById("lang").textContent = getLang() === "zh" ? "EN" : "中文";
    translate();
    if (store.user) { document.getElementById("user").textContent = `${store.user.name} · ${t(`role.${store.user.role}`)}`; renderMode(); setPending(store.pending); translateAlerts(); route(); }
  };
  document.getElementById("signout").onclick = signOut;
  document.getElementById("mode").onclick = switchMode;
  window.addEventListener("hashchange", route);
  setInterval(tick, 1000);
  tick();
  start().then((ok) => { if (!ok) signInPage(); });
}

init();
