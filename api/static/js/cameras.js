// The camera wall (state, last analysed frame, fps, last error, open cases per tile; paged, searched,
// filtered and toured by wall.js, or a page of live players, wall_live.js) and a camera page: live
// view (live.js) or the latest frame with its zones drawn, and the recordings timeline (timeline.js).
import * as API from "./api.js";
import { fmtDateTime, t } from "./i18n.js";
import { mountLive } from "./live.js";
import { onLive, refreshCameras, store } from "./state.js";
import { mountTimeline } from "./timeline.js";
import { clear, h, stateName, typeName } from "./util.js";
import { loadView, mountWall } from "./wall.js";
import { canStream } from "./wall_live.js";

const OPEN = new Set(["new", "registered", "dispatched", "handled", "verified"]);
const LIVE_STATES = new Set(["running", "online", "starting"]);
let root = null, unsubscribe = null, timer = null;
let wall = null, player = null, timeline = null;  // what leave() closes: the wall (its live sockets), the player, the timeline
const wallView = loadView();
// The last thumbnail of recently shown cameras (blob: URLs), so a page drawn again (a tour, a
// filter, a mode switch) shows pictures at once; bounded, the oldest released.
const shots = new Map(), MAX_SHOTS = 48;

function groupsOf(camera) { return camera.groups || store.config?.camera_groups?.[camera.id] || []; }
function groupName(g) { const s = t(`group.${g}`); return s === g ? g : s; }
function fps(health) { return health ? (health.analysed_fps ?? 0).toFixed(1) : "—"; }
function hasFrame(camera) { return Boolean(camera.health && (camera.health.last_frame_at || camera.health.frames_analysed)); }
function thumbUrl(camera, width) { return `/api/cameras/${encodeURIComponent(camera.id)}/latest.jpg?width=${width}&t=${Date.now()}`; }

function modeBanner() {
  const mode = store.mode?.mode || "normal";
  return h("div.mode-banner#mode-banner", { class: mode, dataset: { mode } },
    h("span", `${t("cam.mode")}: ${t(`mode.${mode}`)}`),
    store.mode?.changed_by ? h("small#mode-info", `${t("mode.by")}: ${store.mode.changed_by} · ${fmtDateTime(store.mode.changed_at)}`) : null);
}

async function openCaseCounts() {
  try {
    const counts = new Map();
    for (const c of API.items(await API.listCases())) if (OPEN.has(c.status) && c.camera_id) counts.set(c.camera_id, (counts.get(c.camera_id) || 0) + 1);
    return counts;
  } catch { return new Map(); }
}

// Where the camera runs: its worker (inline, or a camera group) and node; a group that is down
// leaves its cameras unassigned until it is restarted.
function placementText(camera) {
  if (!camera.worker) return "—";
  if (camera.worker === "inline") return `${t("cam.inline")} · ${camera.node || "—"}`;
  return camera.node ? `${camera.worker} · ${camera.node.slice(0, 12)}` : `${camera.worker} · ${t("cam.unassigned")}`;
}

// The wall shows the kind of a stream error in words (the camera page shows the reader's own text).
const ERROR_KINDS = [[/refused/i, "wall.e.refused"], [/timed? ?out/i, "wall.e.timeout"], [/401|403|unauthori[sz]ed|auth/i, "wall.e.auth"],
  [/404|not found/i, "wall.e.notFound"], [/resolve|unknown host|name or service/i, "wall.e.host"]];
function errorKind(text) { return t((ERROR_KINDS.find(([re]) => re.test(text)) || [null, "wall.e.other"])[1]); }

function tile(camera, openCases) {
  const health = camera.health, state = health?.state || (camera.enabled ? "unknown" : "stopped");
  const img = hasFrame(camera) ? h("img", { alt: camera.name || camera.id }) : null;
  const last = shots.get(camera.id);
  if (img && last) { img.src = last; img.dataset.objectUrl = last; }  // the picture it had, until the next one comes
  const shot = h("div.shot", img || h("div.noframe", t(camera.enabled === false ? "lv.disabled" : "cam.noframe")));
  const place = [camera.district, camera.street].filter(Boolean).join(" · ");
  return h("a.tile", { href: `#/camera/${encodeURIComponent(camera.id)}`, class: state, dataset: { id: camera.id, state } },
    shot,
    h("div.body",
      h("div.name", h("span.tile-name", { title: place }, camera.name || camera.id), h("span.state", { class: state }, stateName(state))),
      h("div.muted.tile-place", place, " ", groupsOf(camera).map((g) => h("span.groups-tag", groupName(g)))),
      h("div.stats",
        h("span", h("b.fps", fps(health)), t("cam.fps")),
        h("span", h("b", String(openCases)), t("cam.cases")),
        h("span", h("b", String(camera.event_count ?? 0)), t("cam.events"))),
      health?.last_error ? h("div.err", { dataset: { detail: health.last_error } }, `${t("cam.error")}: ${errorKind(health.last_error)}`) : null));
}

/** Reload a wall tile's thumbnail (the wall calls it only for tiles on screen, now and then). */
async function thumb(el) {
  const camera = store.cameraById.get(el.dataset.id);
  const img = el.querySelector(".shot img");
  if (!camera || !img || !hasFrame(camera) || !(await API.loadImage(img, thumbUrl(camera, 480), { cache: false }))) return;
  shots.delete(camera.id);
  shots.set(camera.id, img.src);
  if (shots.size > MAX_SHOTS) {  // the oldest, unless a tile still shows it
    const [id, url] = shots.entries().next().value;
    shots.delete(id);
    if (![...document.querySelectorAll(".tile .shot img")].some((i) => i.src === url)) URL.revokeObjectURL(url);
  }
}

async function renderWall() {
  const [cameras, counts] = await Promise.all([refreshCameras(), openCaseCounts()]);
  if (!root) return;
  closeWall();
  clear(root).append(modeBanner());
  wall = mountWall(root, { cameras, view: wallView, tile: (c) => tile(c, counts.get(c.id) || 0), thumb, groupsOf, groupName });
}
function closeWall() { if (wall) { wall.close(); wall = null; } }

function drawZones(box, img, camera) { drawZoneLayer(box, img.naturalWidth, img.naturalHeight, camera); }

/** What operators call a zone of the camera (its configured name, else its id). */
function zoneName(camera, id) { return (camera.zones || []).find((z) => z.id === id)?.name || id; }

/** The camera's zones as an SVG over `box`, in the picture's own pixels (`w` x `hgt`); scaled like
 * the picture under it ("meet": the live video is letterboxed with `object-fit: contain`). */
function drawZoneLayer(box, w, hgt, camera) {
  if (!w || !hgt) return;
  box.querySelector("svg.zones")?.remove();
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.classList.add("zones");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  for (const zone of camera.zones || []) {
    const points = (zone.polygon || []).map(([x, y]) => [x <= 1 ? x * w : x, y <= 1 ? y * hgt : y]);
    const polygon = document.createElementNS(ns, "polygon");
    polygon.setAttribute("points", points.map((p) => p.join(",")).join(" "));
    polygon.dataset.zone = zone.id;
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", Math.min(...points.map((p) => p[0])));
    label.setAttribute("y", Math.max(14, Math.min(...points.map((p) => p[1])) - 4));
    label.textContent = zone.name || zone.id;
    svg.append(polygon, label);
  }
  box.append(svg);
}

async function renderCamera(id) {
  const camera = await API.getCamera(id);
  if (!root) return;
  const health = camera.health || {};
  const img = h("img#camera-frame", { alt: camera.name || camera.id });
  const box = h("div.frame-box#camera-still", hasFrame(camera) ? img : h("div.noframe", { style: "padding:80px;text-align:center;color:#8c959f" }, t("cam.noframe")));
  img.addEventListener("load", () => drawZones(box, img, camera));
  if (hasFrame(camera)) API.loadImage(img, thumbUrl(camera, 1280), { cache: false });
  const viewer = liveToggle(camera, box);
  const rows = [
    [t("cam.state"), h("span.state", { class: health.state || "unknown" }, stateName(health.state))],
    [t("cam.fps"), fps(camera.health)], [t("cam.input"), health.input_fps ?? "—"],
    [t("cam.age"), health.last_frame_age_s != null ? `${health.last_frame_age_s} s` : "—"],
    [t("cam.size"), health.width ? `${health.width}×${health.height}` : "—"],
    [t("cam.reconnects"), health.reconnects ?? "—"], [t("cam.dropped"), health.frames_dropped ?? "—"],
    [t("cam.error"), health.last_error || "—"], [t("cam.source"), camera.source],
    [t("cam.worker"), placementText(camera)],
    [t("d.place"), [camera.district, camera.street].filter(Boolean).join(" · ") || "—"],
    [t("cam.groups"), groupsOf(camera).map(groupName).join(", ") || "—"], [t("cam.events"), camera.event_count],
  ];
  clear(root).append(modeBanner(), h("p", h("a", { href: "#/cameras" }, `← ${t("cam.back")}`)),
    h("div.camera-page#camera-page", { dataset: { id: camera.id } },
      h("div", h("div.panel", h("div.live-head", h("h3", camera.name || camera.id), viewer.toggle), viewer.note, viewer.screen, box),
        h("section.panel#camera-timeline")),
      h("div",
        h("div.panel", h("table.kv", rows.map(([k, v]) => h("tr", h("td", k), h("td", v))))),
        h("div.panel", h("h3", t("cam.zones")), h("table.kv", (camera.zones || []).map((z) => h("tr", { dataset: { zone: z.id } }, h("td", z.name || z.id))))),
        h("div.panel", h("h3", t("cam.rules")), h("table.kv", (camera.rules || []).map((r) => h("tr", { dataset: { rule: r.id } }, h("td", typeName(r.type)), h("td", (r.zones || []).map((id) => zoneName(camera, id)).join("、")))))))));
  viewer.show(viewer.initial);
  try { timeline = mountTimeline(document.getElementById("camera-timeline"), camera); } catch (err) { console.warn("timeline", err); }
}

// The camera page's 实时/Live vs latest-frame toggle: live by default when the camera is read in
// this process and healthy; a camera that cannot be watched falls back to the still frame.
function liveToggle(camera, still) {
  const screen = h("div.frame-box.live-box#camera-live", { hidden: true });
  const note = h("p.muted.live-message#camera-live-note", { hidden: true });
  const button = (mode) => h("button.chip.live-toggle", { type: "button", dataset: { view: mode }, onclick: () => show(mode) }, t(mode === "live" ? "lv.live" : "lv.still"));
  const buttons = [button("live"), button("still")];
  const toggle = h("div.chips#camera-view", buttons);
  function show(mode) {
    if (player) { player.close(); player = null; }
    for (const b of buttons) { b.classList.toggle("active", b.dataset.view === mode); b.setAttribute("aria-pressed", String(b.dataset.view === mode)); }
    screen.hidden = mode !== "live";
    still.hidden = mode === "live";
    toggle.dataset.view = mode;
    if (mode !== "live") return;
    note.hidden = true;
    player = mountLive(screen, camera.id, { muted: true, onState: (state) => {
      if (!["unavailable", "unplayable", "revoked"].includes(state)) return;
      note.textContent = t(`lv.${state}`);
      note.hidden = false;
      show("still");
    } });
    // the zones over the live picture too, once its size is known (and again if the stream's changes)
    const video = screen.querySelector("video"), view = screen.querySelector(".live-view");
    const zones = () => drawZoneLayer(view, video.videoWidth, video.videoHeight, camera);
    if (video && view) { video.addEventListener("loadedmetadata", zones); video.addEventListener("resize", zones); }
  }
  const initial = canStream(camera) && LIVE_STATES.has(camera.health?.state) ? "live" : "still";
  return { toggle, note, screen, show, initial };
}

export async function render(main, route) {
  root = h("section.cameras");
  main.append(root);
  const single = route.name === "camera" && route.arg;
  if (single) await renderCamera(route.arg); else await renderWall();
  unsubscribe = onLive((m) => {
    if (m.kind === "cameras" && !single) {
      let redraw = false;
      for (const [id, health] of Object.entries(m.data || {})) {
        const camera = store.cameraById.get(id);
        if (camera) camera.health = health;
        const cell = root?.querySelector(`.split-tile[data-id="${CSS.escape(id)}"] .state`);
        if (cell && health) { cell.className = `state ${health.state}`; cell.textContent = stateName(health.state); }
        const el = root?.querySelector(`.tile[data-id="${CSS.escape(id)}"]`);
        if (!el || !health) continue;
        el.className = `tile ${health.state}`;
        el.dataset.state = health.state;
        const chip = el.querySelector(".state");
        chip.className = `state ${health.state}`;
        chip.textContent = stateName(health.state);
        el.querySelector(".fps").textContent = fps(health);
        if (hasFrame(camera) && el.querySelector(".noframe")) redraw = true;  // its first frame: a picture now
      }
      wall?.health();
      if (redraw) wall?.redraw();
    } else if (m.kind === "mode") {
      root?.querySelector("#mode-banner")?.replaceWith(modeBanner());
      wall?.redraw();  // the new mode's favoured cameras first
    }
  });
  // the camera page's latest frame (the wall refreshes its own visible tiles, wall.js)
  if (single) timer = setInterval(() => { const img = document.getElementById("camera-frame"); const camera = store.cameraById.get(route.arg); if (img && camera && !img.closest("[hidden]")) API.loadImage(img, thumbUrl(camera, 1280), { cache: false }); }, 3000);
}

export function leave() {
  if (unsubscribe) unsubscribe();
  clearInterval(timer);
  closeWall();
  if (player) { player.close(); player = null; }
  if (timeline) { timeline(); timeline = null; }
  root = null;
}
