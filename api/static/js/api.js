// The HTTP API as the console uses it: bearer token, JSON, authorised images and clips.
// Every call to an endpoint of another module goes through a function here, so a change of
// shape is fixed in one place.

// A pasted access token is remembered (localStorage); a password sign-in's session token only for
// this browser tab's session (sessionStorage), and it expires on the server (api.session_hours).
let token = sessionStorage.getItem("cw.session") || localStorage.getItem("cw.token") || "";
export const session = { user: null };

export function getToken() { return token; }
export function isSession() { return Boolean(token) && sessionStorage.getItem("cw.session") === token; }
export function setToken(value, { session: isSessionToken = false } = {}) {
  token = value || "";
  localStorage.removeItem("cw.token");
  sessionStorage.removeItem("cw.session");
  if (token) (isSessionToken ? sessionStorage : localStorage).setItem(isSessionToken ? "cw.session" : "cw.token", token);
}
export const signInWithPassword = (username, password) => api("/api/session", { method: "POST", body: { username, password } });
export const endSession = () => api("/api/session", { method: "DELETE" });
export const endAllSessions = () => api("/api/session/sign-out-everywhere", { method: "POST" });

export class ApiError extends Error {
  constructor(status, detail) { super(typeof detail === "string" ? detail : JSON.stringify(detail)); this.status = status; this.detail = detail; }
}

/** Whether the server answers: `report(ok)` hears every call's outcome (state.js sets it). */
export const reachability = { lost: false, report() {} };

/** fetch JSON from the API; throws ApiError on a non-2xx answer, ApiError(0) when unreachable. */
export async function api(path, { method = "GET", body, query } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, v);
    const text = params.toString();
    if (text) url += (url.includes("?") ? "&" : "?") + text;
  }
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // Unreachable: a write fails at once (status 0, "unreachable"; util.js's errorText words it),
  // and a failed fetch becomes the same ApiError instead of the browser's "Failed to fetch".
  if (reachability.lost && method !== "GET") throw new ApiError(0, "unreachable");
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    reachability.lost = true;
    reachability.report(false);
    throw new ApiError(0, "unreachable");
  }
  reachability.lost = false;
  reachability.report(true);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, data && data.detail !== undefined ? data.detail : data);
  return data;
}

/** A list from either a bare array or a page object ({items: [...]}). */
export function items(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  if (data && Array.isArray(data.cases)) return data.cases;
  return [];
}

const imageCache = new Map();
/** Show an API image in `img` (fetched with the token, so protected images work too). */
export async function loadImage(img, url, { cache = true } = {}) {
  try {
    let objectUrl = cache ? imageCache.get(url) : undefined;
    if (!objectUrl) {
      const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (!response.ok) { img.classList.add("missing"); img.removeAttribute("src"); return false; }
      objectUrl = URL.createObjectURL(await response.blob());
      if (cache) {
        imageCache.set(url, objectUrl);
        if (imageCache.size > 300) { const [first, old] = imageCache.entries().next().value; imageCache.delete(first); URL.revokeObjectURL(old); }
      }
    }
    const previous = img.dataset.objectUrl;
    img.src = objectUrl;
    img.classList.remove("missing");
    if (!cache) { img.dataset.objectUrl = objectUrl; if (previous) setTimeout(() => URL.revokeObjectURL(previous), 1000); }
    return true;
  } catch {
    img.classList.add("missing");
    return false;
  }
}

const clipCache = new Map();
/** Play an event's clip in `video`: by URL when no token is needed (the browser streams it with range
 *  requests), else fetched once with the token and played from a blob: URL (a <video> sends no header). */
export async function loadVideo(video, url) {
  if (!token) { video.src = url; return true; }
  try {
    let objectUrl = clipCache.get(url);
    if (!objectUrl) {
      const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
      if (!response.ok) { video.classList.add("missing"); return false; }
      objectUrl = URL.createObjectURL(await response.blob());
      clipCache.set(url, objectUrl);
      if (clipCache.size > 8) { const [first, old] = clipCache.entries().next().value; clipCache.delete(first); URL.revokeObjectURL(old); }
    }
    video.src = objectUrl;
    return true;
  } catch {
    video.classList.add("missing");
    return false;
  }
}

// ---- endpoints ----
export const whoAmI = () => api("/api/console/me");
export const consoleConfig = () => api("/api/console/config");
export const listEvents = (query) => api("/api/events", { query: { limit: 200, ...query } });
export const getEvent = (id) => api(`/api/events/${id}`);
export const bulkReview = (ids, action, reason) => api("/api/events/bulk-review", { method: "POST", body: reason ? { ids, action, reason } : { ids, action } });
export const reviewEvent = (id, action, reason) => api(`/api/events/${id}/review`, { method: "POST", body: reason ? { action, reason } : { action } });
export const listCameras = () => api("/api/cameras");
export const getCamera = (id) => api(`/api/cameras/${encodeURIComponent(id)}`);
export const listCases = (query) => api("/api/cases", { query: { limit: 500, ...query } });
export const getCase = (id) => api(`/api/cases/${id}`);
export const createHotlineCase = (body) => api("/api/cases", { method: "POST", body });
/** Upload one photo (JPEG/PNG) for a case step; answers {url, name, bytes, width, height}. */
export async function uploadCasePhoto(id, file) {
  const form = new FormData();
  form.append("file", file, file.name);
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`/api/cases/${id}/photos`, { method: "POST", headers, body: form });
  const data = await response.json();
  if (!response.ok) throw new ApiError(response.status, data && data.detail !== undefined ? data.detail : data);
  return data;
}
export const transitionCase = (id, to, body = {}) => api(`/api/cases/${id}/transitions`, { method: "POST", body: { to, ...body } });
export const getMode = () => api("/api/mode");
export const setMode = (mode) => api("/api/mode", { method: "PUT", body: { mode } });
export const getStatistics = (query) => api("/api/stats", { query });
export const getUptime = () => api("/api/console/uptime");
// recordings and exports (issue #15: playback)
export const listRecordings = (cameraId, { start, end }) => api(`/api/cameras/${encodeURIComponent(cameraId)}/recordings`, { query: { start, end } });
export const exportToCase = (caseId, body) => api(`/api/cases/${caseId}/exports`, { method: "POST", body });
/** Save an API file (an export) to disk: fetched with the token, so no token goes into a URL. */
export async function download(url, name) {
  const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new ApiError(response.status, response.statusText);
  const objectUrl = URL.createObjectURL(await response.blob());
  const a = Object.assign(document.createElement("a"), { href: objectUrl, download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(objectUrl), 10_000);
}
// parking enforcement by plate (issue #16): a case's steps and owner, vehicles, the campaign report
export const getEnforcement = (caseId) => api(`/api/cases/${caseId}/enforcement`);
export const recordEnforcement = (caseId, body) => api(`/api/cases/${caseId}/enforcement`, { method: "POST", body });
/** The owner with the full phone number (operators; the server writes the lookup on the case). */
export const lookupOwner = (caseId) => api(`/api/cases/${caseId}/owner-lookup`, { method: "POST" });
export const listVehicles = (query) => api("/api/vehicles", { query: { within_days: 365, min_events: 2, ...query } });
export const getVehicle = (plate, query) => api(`/api/vehicles/${encodeURIComponent(plate)}`, { query });
export const getCaseReport = (query) => api("/api/reports/cases", { query: { ...query, format: "json" } });
export function caseReportUrl(query, format) {
  return `/api/reports/cases?${new URLSearchParams({ ...query, format })}`;
}
export const getCampaignReport = (query) => api("/api/reports/campaign", { query: { ...query, format: "json" } });
/** The campaign report's CSV or Excel file, as a download. */
export function campaignReportUrl(query, format) {
  const params = new URLSearchParams(Object.entries({ ...query, format }).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  return `/api/reports/campaign?${params}`;
}
