// The map (一张图, issue #17): cameras coloured by state and open cases at their camera's place, on
// the configured map image (Leaflet's CRS.Simple, image pixels), on local tiles (Leaflet's Web
// Mercator) or, with no map configured, on a plain schematic of the cameras' positions. Leaflet
// (vendor/leaflet, the global L) loads the first time the page opens; nothing comes from the internet.
import * as API from "./api.js";
import { fmtDateTime, t } from "./i18n.js";
import { onLive, refreshCameras, store } from "./state.js";
import { errorText, h, stateName, toast, typeName } from "./util.js";

const OPEN = new Set(["new", "registered", "dispatched", "handled", "verified"]);
const GOOD = new Set(["online", "running"]);
const WAITING = new Set(["stalled", "reconnecting", "connecting", "starting"]);
const BAD = new Set(["offline", "error"]);
const LEGEND = ["ok", "wait", "bad", "idle"];
/** What the page shows (kept across visits): the layer toggles. */
const view = { cameras: true, cases: true };
let root = null, map = null, layers = null, place = null, unsubscribe = null, refresh = null, objectUrl = null;
let cases = [];  // the open cases last fetched (a camera's state change redraws without asking again)
let drawn = "";  // what the markers show now: a redraw that would change nothing leaves them alone

// ---- Leaflet, loaded once ----
let leaflet = null;
function loadLeaflet() {
  const load = (el) => new Promise((resolve, reject) => {
    el.onload = resolve;
    el.onerror = () => { leaflet = null; el.remove(); reject(new Error(`${t("err.load")}: ${el.src || el.href}`)); };
    document.head.append(el);
  });
  leaflet = leaflet || Promise.all([  // the stylesheets too, so the first map is laid out right
    load(h("link", { rel: "stylesheet", href: "/static/vendor/leaflet/leaflet.css" })),
    load(h("link", { rel: "stylesheet", href: "/static/vendor/leaflet.markercluster/MarkerCluster.css" })),
    load(h("script", { src: "/static/vendor/leaflet/leaflet.js" }))
      .then(() => load(h("script", { src: "/static/vendor/leaflet.markercluster/leaflet.markercluster.js" }))),
  ]).then(() => window.L);
  return leaflet;
}

/** A camera's state as one of the legend's four colours. */
function tone(camera) {
  const state = camera.health?.state || (camera.enabled ? "unknown" : "stopped");
  return { state, tone: GOOD.has(state) ? "ok" : WAITING.has(state) ? "wait" : BAD.has(state) ? "bad" : "idle" };
}

// ---- where things go: position -> Leaflet's [lat, lng] for the chosen map ----
/** The placer for the map config: a function position -> [lat, lng] or null (cannot be placed here). */
function placer(config, cameras) {
  if (config.kind === "image") {
    const { width, height, bounds } = config.image;
    return (p) => {
      if (p.x != null) return [(1 - p.y) * height, p.x * width];
      if (p.lat == null || !bounds) return null;
      const [[south, west], [north, east]] = bounds;
      return [((p.lat - south) / (north - south)) * height, ((p.lon - west) / (east - west)) * width];
    };
  }
  if (config.kind === "tiles") return (p) => (p.lat != null ? [p.lat, p.lon] : null);
  // the schematic: lat/lon as metres from the cameras' mean (east, north), or x/y on a unit square
  const geo = cameras.map((c) => c.position).filter((p) => p && p.lat != null);
  const lat0 = geo.length ? geo.reduce((s, p) => s + p.lat, 0) / geo.length : 0;
  const lon0 = geo.length ? geo.reduce((s, p) => s + p.lon, 0) / geo.length : 0;
  const cos = Math.cos((lat0 * Math.PI) / 180);
  return (p) => {
    if (p.lat != null) return [(p.lat - lat0) * 110_540, (p.lon - lon0) * 111_320 * cos];
    return [(1 - p.y) * 1000, p.x * 1000];
  };
}

/** The image as a URL Leaflet can show: fetched with the token when there is one (an <img> sends no header). */
async function imageSource(url) {
  if (!API.getToken()) return url;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${API.getToken()}` } });
  if (!response.ok) throw new Error(`${t("map.noImage")} (${response.status})`);
  objectUrl = URL.createObjectURL(await response.blob());
  return objectUrl;
}

async function buildMap(L, canvas, config) {
  const common = { attributionControl: false, zoomControl: false, zoomSnap: 0.25 };
  const zoom = () => L.control.zoom({ zoomInTitle: t("map.zoomIn"), zoomOutTitle: t("map.zoomOut") }).addTo(map);
  if (config.kind === "tiles") {
    const tiles = config.tiles;
    map = L.map(canvas, { ...common, minZoom: tiles.min_zoom, maxZoom: tiles.max_zoom }).setView(tiles.center, tiles.zoom);
    zoom();
    const token = API.getToken();
    L.tileLayer(tiles.url + (token ? `?token=${encodeURIComponent(token)}` : ""), { minZoom: tiles.min_zoom, maxZoom: tiles.max_zoom }).addTo(map);
    if (tiles.attribution) L.control.attribution({ prefix: false }).addAttribution(tiles.attribution).addTo(map);
    return;
  }
  map = L.map(canvas, { ...common, crs: L.CRS.Simple, minZoom: -6, maxZoom: 4 });
  zoom();
  if (config.kind === "image") {
    const { width, height } = config.image;
    const bounds = [[0, 0], [height, width]];
    L.imageOverlay(await imageSource(config.image.url), bounds, { className: "map-image" }).addTo(map);
    map.fitBounds(bounds);
    map.setMaxBounds(L.latLngBounds(bounds).pad(0.25));
  }
}

// ---- markers ----
function cameraMarker(L, camera, at) {
  const { state, tone: colour } = tone(camera);
  const label = [camera.name || camera.id, camera.district, camera.street].filter(Boolean).join(" · ");
  const dot = h("span.map-cam", { class: colour, dataset: { id: camera.id, state }, title: label });
  const marker = L.marker(at, { icon: L.divIcon({ html: dot, className: "map-icon", iconSize: [18, 18], iconAnchor: [9, 9] }), riseOnHover: true, tone: colour });
  marker.bindTooltip(h("div.map-tip", h("b", camera.name || camera.id), h("div", [camera.district, camera.street].filter(Boolean).join(" · ")),
    h("div.muted", stateName(state))), { direction: "top", offset: [0, -8] });
  marker.on("click", () => { location.hash = `#/camera/${encodeURIComponent(camera.id)}`; });
  return marker;
}

function caseMarker(L, camera, list, at) {
  const badge = h("span.map-case", { dataset: { camera: camera.id, count: String(list.length), case: list.length === 1 ? String(list[0].id) : "" },
    title: `${camera.name || camera.id}: ${list.length} ${t("map.openCases")}` }, String(list.length));
  const marker = L.marker(at, { icon: L.divIcon({ html: badge, className: "map-icon", iconSize: [22, 22], iconAnchor: [-2, 26] }), zIndexOffset: 1000, caseCount: list.length });
  if (list.length === 1) {
    marker.bindTooltip(`${typeName(list[0].type)} · #${list[0].id}`, { direction: "top" });
    marker.on("click", () => { location.hash = `#/case/${list[0].id}`; });
  } else {
    marker.bindPopup(h("div.map-case-list", h("b", `${camera.name || camera.id} · ${list.length} ${t("map.openCases")}`),
      h("ul", list.map((c) => h("li", h("a.map-case-link", { href: `#/case/${c.id}`, dataset: { id: String(c.id) } },
        `#${c.id} ${typeName(c.type)}`), " ", h("span.muted", fmtDateTime(c.created_at)))))));
  }
  return marker;
}

/** The worst of the cameras' tones first (a cluster shows its worst camera's colour). */
const TONE_ORDER = ["bad", "wait", "idle", "ok"];

/** A layer of markers that lie close together at the current zoom drawn as one cluster with its
 * count (Leaflet.markercluster, vendored): cameras in their worst state's colour, open-case badges
 * with the sum of their counts. A click on a cluster zooms to it; at the closest zoom the markers
 * of one spot fan out. */
function clusterLayer(L, kind) {
  const iconCreateFunction = (cluster) => {
    const markers = cluster.getAllChildMarkers();
    if (kind === "cases") {
      const total = markers.reduce((sum, m) => sum + (m.options.caseCount || 0), 0);
      const badge = h("span.map-case.map-cluster-cases", { dataset: { count: String(total) }, title: `${total} ${t("map.openCases")}` }, String(total));
      return L.divIcon({ html: badge, className: "map-icon", iconSize: [26, 26], iconAnchor: [-2, 30] });
    }
    const tone = TONE_ORDER.find((name) => markers.some((m) => m.options.tone === name)) || "idle";
    const dot = h("span.map-cluster", { class: tone, dataset: { count: String(markers.length), tone },
      title: `${markers.length} ${t("map.cameras")} · ${t(`map.tone.${tone}`)}` }, String(markers.length));
    return L.divIcon({ html: dot, className: "map-icon", iconSize: [30, 30], iconAnchor: [15, 15] });
  };
  return L.markerClusterGroup({ iconCreateFunction, maxClusterRadius: 36, showCoverageOnHover: false, spiderfyOnMaxZoom: true });
}

async function openCases() {
  try {
    return API.items(await API.listCases()).filter((c) => OPEN.has(c.status) && c.camera_id);
  } catch (err) {
    toast(errorText(err), "error");
    return [];
  }
}

/** Draw (again) the camera and case layers from store.cameras and the open cases (fetched again unless `fetch` is false). */
async function drawMarkers(L, { fetch = true } = {}) {
  if (fetch) cases = await openCases();
  if (!map || !root) return;
  const byCamera = new Map();
  for (const c of cases) { if (!byCamera.has(c.camera_id)) byCamera.set(c.camera_id, []); byCamera.get(c.camera_id).push(c); }
  const unplaced = [], points = [], placed = [];
  for (const camera of store.cameras) {
    const at = camera.position ? place(camera.position) : null;
    if (at) { points.push(at); placed.push([camera, at]); } else unplaced.push(camera);
  }
  const state = JSON.stringify(placed.map(([camera]) => [camera.id, tone(camera).state, (byCamera.get(camera.id) || []).map((c) => [c.id, c.type])]));
  if (state === drawn) return points;
  drawn = state;
  layers.cameras.clearLayers();
  layers.cases.clearLayers();
  for (const [camera, at] of placed) {
    layers.cameras.addLayer(cameraMarker(L, camera, at));
    const list = byCamera.get(camera.id);
    if (list) layers.cases.addLayer(caseMarker(L, camera, list, at));
  }
  const note = root.querySelector("#map-unplaced");
  note.hidden = !unplaced.length;
  note.textContent = unplaced.length ? `${t("map.unplaced")}: ${unplaced.map((c) => c.name || c.id).join("、")}` : "";
  root.querySelector("#map-empty").hidden = points.length > 0;
  root.querySelector("#map-case-total").textContent = String(cases.length);
  return points;
}

function toggle(name) {
  return h("label.map-toggle", h("input", { type: "checkbox", id: `map-show-${name}`, checked: view[name], onchange: (e) => {
    view[name] = e.target.checked;
    if (map) { if (view[name]) layers[name].addTo(map); else layers[name].remove(); }
  } }), h("span", t(`map.${name}`)));
}

function legend() {
  return h("div.map-legend#map-legend",
    LEGEND.map((name) => h("span.map-key", h("span.map-cam", { class: name }), t(`map.tone.${name}`))),
    h("span.map-key", h("span.map-case", "n"), t("map.caseKey")));
}

export async function render(main) {
  root = h("section.map-page");
  main.append(root);
  const config = store.config?.map || { kind: "schematic" };
  const canvas = h("div#map-canvas", { class: config.kind, dataset: { kind: config.kind } });
  root.append(...[
    h("div.filters", h("h3", config.title || t("map.title")),
      toggle("cameras"), toggle("cases"), h("span.muted", t("map.openCases"), ": ", h("b#map-case-total", "—")), legend()),
    h("p.muted#map-unplaced", { hidden: true }),
    h("p.muted#map-empty", { hidden: true }, t("map.empty")),
    config.kind === "schematic" ? h("p.hint#map-schematic", t("map.schematic")) : null,
    canvas].filter(Boolean));
  const [L] = await Promise.all([loadLeaflet(), refreshCameras()]);
  if (!root) return;  // left while loading
  await buildMap(L, canvas, config);
  place = placer(config, store.cameras);
  layers = { cameras: clusterLayer(L, "cameras"), cases: clusterLayer(L, "cases") };
  for (const name of ["cameras", "cases"]) if (view[name]) layers[name].addTo(map);
  const points = await drawMarkers(L);
  if (map && config.kind === "schematic" && points?.length) {
    if (points.length === 1) map.setView(points[0], 0); else map.fitBounds(points, { padding: [60, 60] });
  }
  let fetchCases = false;
  unsubscribe = onLive((m) => {
    if (m.kind === "cameras") {
      for (const [id, health] of Object.entries(m.data || {})) { const camera = store.cameraById.get(id); if (camera) camera.health = health; }
    } else if (m.kind === "case" || m.kind === "event" || (m.kind === "change" && String(m.data?.path).startsWith("/api/cases"))) fetchCases = true;
    else return;
    clearTimeout(refresh);  // a burst of messages redraws once
    refresh = setTimeout(() => { const fetch = fetchCases; fetchCases = false; if (map) drawMarkers(L, { fetch }).catch(() => {}); }, 500);
  });
}

export function leave() {
  if (unsubscribe) unsubscribe();
  unsubscribe = null;
  clearTimeout(refresh);
  if (map) map.remove();
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  map = null; layers = null; place = null; objectUrl = null; root = null; cases = []; drawn = "";
}
