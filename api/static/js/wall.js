// The camera wall for hundreds of cameras (issue #17): search, district / street / group filters,
// paged grids of 1, 4, 9 or 16 tiles (the choice kept in localStorage), keyboard paging, tours
// (轮巡), flood-mode cameras first, health counts per district and a full-screen mode for a wall
// screen. Only the current page's tiles exist; their thumbnails refresh only while on screen and
// the document is visible. The split view plugs live players into the same page (wall_live.js).
import { t } from "./i18n.js";
import { store } from "./state.js";
import { clear, h } from "./util.js";
import { SPLITS, mountSplit } from "./wall_live.js";

const KEY = "cw.wall";
export const TOURS_S = [5, 10, 15, 30, 60];
const THUMB_MS = 5000;   // a visible tile's thumbnail at most this often: 16 tiles, ~3 requests a second
const TICK_MS = 500;     // the refresh scheduler's tick
const PER_TICK = 8;      // and at most this many requests a tick: a new page of 16 fills in a second
export const BUCKETS = ["online", "stalled", "offline", "stopped"];

/** The wall's view: what localStorage remembers (mode, tiles a page, tour) and this visit's filters. */
export function loadView() {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(KEY) || "{}") || {}; } catch { saved = {}; }
  return {
    mode: saved.mode === "split" ? "split" : "grid",
    split: SPLITS.includes(saved.split) ? saved.split : 9,
    tourS: TOURS_S.includes(saved.tourS) ? saved.tourS : 15,
    touring: saved.touring === true,
    page: 0, query: "", district: "", street: "", group: "",
  };
}
function saveView(view) {
  try { localStorage.setItem(KEY, JSON.stringify({ mode: view.mode, split: view.split, tourS: view.tourS, touring: view.touring })); } catch { /* private mode: not remembered */ }
}

/** A camera's health at a glance: online, stalled, offline (anything else switched on) or stopped (switched off). */
export function healthBucket(camera) {
  if (camera.enabled === false) return "stopped";
  const state = camera.health?.state;
  if (state === "online" || state === "running") return "online";
  return state === "stalled" ? "stalled" : "offline";
}

/** Per district (sorted; "" for cameras without one): {online, stalled, offline, stopped}. */
export function healthByDistrict(cameras) {
  const rows = new Map();
  for (const camera of cameras) {
    const key = camera.district || "";
    if (!rows.has(key)) rows.set(key, Object.fromEntries(BUCKETS.map((b) => [b, 0])));
    rows.get(key)[healthBucket(camera)] += 1;
  }
  return [...rows.entries()].sort(([a], [b]) => a.localeCompare(b, "zh-CN"));
}

/** Whether the current mode (store.mode, GET /api/mode) favours `camera`: its plan runs at high
 *  priority there, or it belongs to the group the mode is named after (flood mode: group flood). */
export function favoured(camera, mode, groups) {
  if (!mode || !mode.mode || mode.mode === "normal") return false;
  return mode.cameras?.[camera.id]?.priority === "high" || groups.includes(mode.mode);
}

/** The cameras the view shows, in order: filtered, the mode's favoured cameras first. */
export function arrange(cameras, view, groupsOf, mode = store.mode) {
  const query = view.query.trim().toLowerCase();
  const shown = cameras.filter((c) => (!view.district || c.district === view.district)
    && (!view.street || c.street === view.street)
    && (!view.group || groupsOf(c).includes(view.group))
    && (!query || [c.name, c.id, c.district, c.street].some((s) => (s || "").toLowerCase().includes(query))));
  const first = shown.filter((c) => favoured(c, mode, groupsOf(c)));
  return first.length ? [...first, ...shown.filter((c) => !favoured(c, mode, groupsOf(c)))] : shown;
}

const sorted = (values) => [...new Set(values.filter(Boolean))].sort((a, b) => a.localeCompare(b, "zh-CN"));
const typing = (el) => el && el.closest && el.closest("input, select, textarea, [contenteditable]");

/** The wall into `root`: `cameras` (the API's list), `view` (loadView(), changed in place),
 *  `tile(camera)` a thumbnail tile (an element with data-id and an <img> in .shot),
 *  `thumb(el)` reloads a tile's thumbnail (a promise), `groupsOf`, `groupName`.
 *  Returns {redraw(), health(), close()}. */
export function mountWall(root, { cameras, view, tile, thumb, groupsOf, groupName }) {
  const visible = new Set(), due = new Map(), loading = new Set();
  let live = null, tourTimer = null, searchTimer = null, shown = [], pages = 1;
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) visible.add(entry.target); else visible.delete(entry.target);
    }
  });

  const health = h("div.wall-health#wall-health", { "aria-label": t("wall.health") });
  const search = h("input#wall-search", { type: "search", placeholder: t("wall.search"), "aria-label": t("wall.search"), value: view.query,
    oninput: () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => { view.query = search.value; view.page = 0; draw(); }, 150); } });
  const district = h("select#wall-district", { "aria-label": t("f.district"), onchange: () => { view.district = district.value; view.street = ""; view.page = 0; fillStreets(); draw(); } },
    h("option", { value: "" }, `${t("f.district")}: ${t("f.all")}`), sorted(cameras.map((c) => c.district)).map((d) => h("option", { value: d, selected: d === view.district }, d)));
  const street = h("select#wall-street", { "aria-label": t("f.street"), onchange: () => { view.street = street.value; view.page = 0; draw(); } });
  const groups = sorted(cameras.flatMap(groupsOf));
  const chip = (value, text) => h("button.chip", { type: "button", class: view.group === value ? "active" : "", dataset: { group: value }, "aria-pressed": String(view.group === value),
    onclick: () => { view.group = value; view.page = 0; draw(); } }, text);
  const groupChips = h("div.chips#groups", chip("", `${t("f.all")} (${cameras.length})`), groups.map((g) => chip(g, groupName(g))));
  const modeChip = (mode) => h("button.chip.wall-mode", { type: "button", dataset: { mode }, onclick: () => { view.mode = mode; view.page = Math.min(view.page, pages - 1); draw(); } }, t(`wall.${mode}`));
  const modes = h("div.chips#wall-modes", modeChip("grid"), modeChip("split"));
  const splitChip = (n) => h("button.chip.split-choice", { type: "button", dataset: { split: String(n) }, onclick: () => { view.split = n; view.page = 0; draw(); } }, t(`wall.split${n}`));
  const prev = h("button.ghost#split-prev", { type: "button", "aria-label": t("wall.prev"), onclick: () => go(view.page - 1) }, `◀ ${t("wall.prev")}`);
  const next = h("button.ghost#split-next", { type: "button", "aria-label": t("wall.next"), onclick: () => go(view.page + 1) }, `${t("wall.next")} ▶`);
  const pageLabel = h("span#split-page", { "aria-live": "polite" });
  const count = h("span.muted#wall-count");
  const interval = h("select#wall-tour-interval", { "aria-label": t("wall.tourEvery"), onchange: () => { view.tourS = Number(interval.value); if (view.touring) startTour(); saveView(view); } },
    TOURS_S.map((s) => h("option", { value: String(s), selected: s === view.tourS }, t("wall.seconds").replace("{n}", String(s)))));
  const tourButton = h("button#wall-tour", { type: "button", onclick: () => { view.touring = !view.touring; if (view.touring) startTour(); else stopTour(); saveView(view); drawTour(); } });
  const full = h("button#wall-fullscreen", { type: "button", title: t("wall.fullHint"), onclick: () => toggleFull() }, `⛶ ${t("wall.full")}`);
  const body = h("div.wall-page#wall-page");
  root.append(h("div.wall-box#wall-box",
    health,
    h("div.filters.wall-filters", search, district, street, h("span.muted", t("f.group")), groupChips, modes),
    h("div.split-bar.wall-bar", h("span.muted", t("wall.perPage")), h("div.chips#split-choices", SPLITS.map(splitChip)), prev, pageLabel, next, count,
      h("span.wall-tour", h("span.muted", t("wall.tour")), interval, tourButton), full),
    body));

  function fillStreets() {
    const names = sorted(cameras.filter((c) => !view.district || c.district === view.district).map((c) => c.street));
    clear(street).append(h("option", { value: "" }, `${t("f.street")}: ${t("f.all")}`), ...names.map((s) => h("option", { value: s, selected: s === view.street }, s)));
  }

  function go(page) {
    view.page = (page + pages) % pages;  // past the last page (a tour, or a key): the first again
    draw();
  }

  function draw() {
    saveView(view);
    shown = arrange(cameras, view, groupsOf);
    pages = Math.max(1, Math.ceil(shown.length / view.split));
    view.page = Math.min(Math.max(0, view.page), pages - 1);
    const onPage = shown.slice(view.page * view.split, (view.page + 1) * view.split);
    for (const b of modes.children) { const on = b.dataset.mode === view.mode; b.classList.toggle("active", on); b.setAttribute("aria-pressed", String(on)); }
    for (const b of root.querySelectorAll(".split-choice")) { const on = Number(b.dataset.split) === view.split; b.classList.toggle("active", on); b.setAttribute("aria-pressed", String(on)); }
    for (const b of groupChips.children) { const on = b.dataset.group === view.group; b.classList.toggle("active", on); b.setAttribute("aria-pressed", String(on)); }
    prev.disabled = pages < 2;
    next.disabled = pages < 2;
    pageLabel.textContent = `${view.page + 1} / ${pages}`;
    Object.assign(pageLabel.dataset, { page: String(view.page), pages: String(pages) });
    count.textContent = t("wall.count").replace("{n}", String(shown.length));
    count.dataset.count = String(shown.length);
    drawTour();
    closePage();
    clear(body);
    if (!onPage.length) body.append(h("p.muted.wall-empty#wall-empty", t("wall.none")));
    else if (view.mode === "split") live = mountSplit(body, onPage, view.split);
    else {
      const grid = h("div.wall.wall-grid#wall", { class: `split-${view.split}`, dataset: { split: String(view.split) } }, onPage.map(tile));
      body.append(grid);
      for (const el of grid.children) { due.set(el, 0); observer.observe(el); }  // a new page's pictures at once
    }
  }

  function drawTour() {
    tourButton.textContent = view.touring ? `⏸ ${t("wall.pause")}` : `▶ ${t("wall.start")}`;
    tourButton.dataset.state = view.touring ? "running" : "paused";
    tourButton.setAttribute("aria-pressed", String(view.touring));
  }

  function closePage() {
    if (live) { live.close(); live = null; }
    observer.disconnect();
    visible.clear(); due.clear(); loading.clear();
  }

  // Thumbnails: only the current page's tiles exist; of those only the ones on screen, with the
  // document visible, refresh, each at most every THUMB_MS, at most PER_TICK a tick.
  const ticker = setInterval(() => {
    if (document.visibilityState !== "visible") return;
    const now = performance.now();
    let sent = 0;
    for (const el of visible) {
      if (sent >= PER_TICK) break;
      if (loading.has(el) || (due.get(el) ?? 0) > now || !el.isConnected) continue;
      sent += 1;
      loading.add(el);
      due.set(el, now + THUMB_MS);
      Promise.resolve(thumb(el)).finally(() => loading.delete(el));
    }
  }, TICK_MS);

  function startTour() {
    clearInterval(tourTimer);
    tourTimer = setInterval(() => { if (document.visibilityState === "visible" && pages > 1) go(view.page + 1); }, view.tourS * 1000);
  }
  function stopTour() { clearInterval(tourTimer); tourTimer = null; }

  function toggleFull(on = !document.body.classList.contains("wall-full")) {
    document.body.classList.toggle("wall-full", on);
    full.setAttribute("aria-pressed", String(on));
    full.textContent = `⛶ ${t(on ? "wall.exitFull" : "wall.full")}`;
    if (on && !document.fullscreenElement) document.documentElement.requestFullscreen?.().catch(() => { /* refused (no user gesture, headless): the CSS mode alone */ });
    if (!on && document.fullscreenElement) document.exitFullscreen().catch(() => {});
  }
  const onFullscreen = () => { if (!document.fullscreenElement) toggleFull(false); };
  document.addEventListener("fullscreenchange", onFullscreen);

  function onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey || typing(e.target) || document.querySelector("dialog[open]")) return;
    const keys = { ArrowRight: () => go(view.page + 1), PageDown: () => go(view.page + 1), ArrowLeft: () => go(view.page - 1), PageUp: () => go(view.page - 1),
      Home: () => go(0), End: () => go(pages - 1), f: () => toggleFull(), p: () => tourButton.click() };
    if (document.body.classList.contains("wall-full")) keys.Escape = () => toggleFull(false);  // the CSS mode without the browser's own
    const act = keys[e.key];
    if (!act) return;
    e.preventDefault();
    act();
  }
  document.addEventListener("keydown", onKey);

  function drawHealth() {
    const cell = (bucket, n) => h("span.wall-health-count", { class: bucket, dataset: { bucket, count: String(n) } }, `${t(`wall.h.${bucket}`)} ${n}`);
    const row = (name, counts) => h("div.wall-health-row", { dataset: { district: name } },
      h("b", name || t("wall.noDistrict")), BUCKETS.map((b) => cell(b, counts[b])));
    const rows = healthByDistrict(cameras);
    const total = Object.fromEntries(BUCKETS.map((b) => [b, rows.reduce((n, [, c]) => n + c[b], 0)]));
    clear(health).append(h("div.wall-health-row.total", { dataset: { district: "*" } }, h("b", t("wall.allDistricts")), BUCKETS.map((b) => cell(b, total[b]))),
      ...rows.map(([name, counts]) => row(name, counts)));
  }

  fillStreets();
  drawHealth();
  draw();
  if (view.touring) startTour();
  return {
    redraw: draw,
    health: drawHealth,
    close() {
      closePage();
      clearInterval(ticker);
      clearTimeout(searchTimer);
      stopTour();
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("fullscreenchange", onFullscreen);
      if (document.body.classList.contains("wall-full")) toggleFull(false);
    },
  };
}
