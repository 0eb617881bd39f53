// A camera's live view: fragmented MP4 over the socket `/api/cameras/{id}/live?ticket=...` (see
// api/routes/live_video.py) into a <video> through Media Source Extensions. Appends go through a
// small bounded queue (overflow: reconnect, which starts again at a keyframe); the player is kept
// near the live edge and old media is removed, so latency and memory stay bounded. It reconnects
// with backoff unless closed on purpose or told the camera cannot be watched (4404, 4415, 4403).
import * as API from "./api.js";
import { t } from "./i18n.js";
import { h } from "./util.js";

const MAX_QUEUE = 40;             // fragments waiting for the SourceBuffer (one packet each)
const MAX_QUEUE_BYTES = 6e6;
const LAG_S = 1.5;                // behind the buffered end by more than this: seek to the edge
const EDGE_S = 0.3;               // where to seek: this far before the buffered end
const KEEP_S = 30;                // media kept behind the playhead
const FINAL = { 4404: "lv.unavailable", 4415: "lv.unplayable", 4403: "lv.revoked" };
const MESSAGES = { 4429: "lv.busy", 4401: "lv.retrying" };

function socketUrl(cameraId, ticket) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/api/cameras/${encodeURIComponent(cameraId)}/live?ticket=${encodeURIComponent(ticket)}`;
}

/** Play `cameraId` live in `container`; `onState(state, code)` hears "connecting", "playing",
 *  "retrying" and the final "unavailable"/"unplayable"/"revoked". Returns {close(), video}. */
export function mountLive(container, cameraId, { muted = true, onState } = {}) {
  const video = h("video.live-video", { autoplay: true, playsInline: true, muted, disablePictureInPicture: true });
  video.muted = muted;
  video.setAttribute("muted", "");
  const note = h("div.live-note", { role: "status" });
  const box = h("div.live-view", { dataset: { camera: cameraId, state: "connecting" } }, video, note);
  container.append(box);
  let socket = null, media = null, buffer = null, objectUrl = null, retry = 0, attempt = 0;
  let queue = [], queued = 0, closed = false, lastCode = 0;

  function setState(state, code = 0, text = "") {
    box.dataset.state = state;
    note.textContent = text;
    note.hidden = !text;
    if (onState) onState(state, code);
  }

  function resetMedia() {
    queue = []; queued = 0; buffer = null;
    if (media && media.readyState === "open") { try { media.endOfStream(); } catch { /* already ended */ } }
    media = null;
    if (objectUrl) { URL.revokeObjectURL(objectUrl); objectUrl = null; }
    video.removeAttribute("src");
    delete video.dataset.mediaZero;
  }

  function startSession(session) {
    resetMedia();
    if (session.playable === false || !window.MediaSource || !MediaSource.isTypeSupported(session.mime)) {
      lastCode = 4415;
      finish(4415);
      return;
    }
    video.dataset.mediaZero = String(session.media_zero_s ?? 0);
    const source = new MediaSource();
    media = source;
    objectUrl = URL.createObjectURL(source);
    source.addEventListener("sourceopen", () => {
      if (media !== source) return;
      try {
        buffer = source.addSourceBuffer(session.mime);
        buffer.mode = "segments";
        buffer.addEventListener("updateend", () => { if (media === source) { keepUp(); pump(); } });
        buffer.addEventListener("error", () => { if (media === source) restart(); });
      } catch { finish(4415); return; }
      pump();
    }, { once: true });
    video.src = objectUrl;
  }

  function pump() {
    if (!buffer || buffer.updating || !media || media.readyState !== "open") return;
    const ranges = buffer.buffered;
    if (ranges.length && video.currentTime - ranges.start(0) > KEEP_S + 10) {
      try { buffer.remove(ranges.start(0), video.currentTime - KEEP_S); return; } catch { /* append instead */ }
    }
    const next = queue.shift();
    if (!next) return;
    queued -= next.byteLength;
    try { buffer.appendBuffer(next); } catch { restart(); }
  }

  // Stay near the live edge: a player that fell behind (a slow tab, a stall) jumps forward.
  function keepUp() {
    const ranges = buffer?.buffered;
    if (!ranges || !ranges.length) return;
    const end = ranges.end(ranges.length - 1), start = ranges.start(ranges.length - 1);
    if (video.currentTime < start || end - video.currentTime > LAG_S) video.currentTime = Math.max(start, end - EDGE_S);
    if (video.paused) video.play().catch(() => {});
  }

  function onMessage(event) {
    if (typeof event.data !== "string") {
      if (!media) return;
      queue.push(event.data);
      queued += event.data.byteLength;
      if (queue.length > MAX_QUEUE || queued > MAX_QUEUE_BYTES) { restart(); return; }
      if (box.dataset.state !== "playing") { attempt = 0; setState("playing"); }
      pump();
      return;
    }
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    if (message.kind === "session") startSession(message);
    else if (message.kind === "clock") { video.dataset.newest = String(message.newest_s); video.dataset.drops = String(message.drops ?? 0); }
    else if (message.kind === "error") lastCode = message.code;
  }

  async function connect() {
    if (closed) return;
    setState(attempt ? "retrying" : "connecting", 0, attempt ? t("lv.retrying") : "");
    let ticket;
    try { ticket = (await API.api("/api/stream/ticket", { method: "POST" })).ticket; } catch (err) {
      if (err.status === 401 || err.status === 403) { finish(4403); return; }
      schedule();
      return;
    }
    if (closed) return;
    lastCode = 0;
    const ws = new WebSocket(socketUrl(cameraId, ticket));
    ws.binaryType = "arraybuffer";
    socket = ws;
    ws.onmessage = (event) => { if (socket === ws) onMessage(event); };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      const code = FINAL[event.code] ? event.code : FINAL[lastCode] ? lastCode : event.code;
      if (FINAL[code]) finish(code); else schedule(code);
    };
  }

  function schedule(code = 0) {
    if (closed) return;
    const delay = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5)) * (0.8 + Math.random() * 0.4);
    attempt += 1;
    setState("retrying", code, t(MESSAGES[code] || "lv.retrying"));
    clearTimeout(retry);
    retry = setTimeout(connect, delay);
  }

  // Overflow or a media error: drop what is queued and start again from a keyframe at once.
  function restart() {
    if (closed) return;
    const ws = socket;
    socket = null;
    if (ws) ws.close(1000);
    resetMedia();
    clearTimeout(retry);
    retry = setTimeout(connect, 200);
  }

  function finish(code) {
    const ws = socket;
    socket = null;
    if (ws) ws.close(1000);
    resetMedia();
    clearTimeout(retry);
    const state = { 4404: "unavailable", 4415: "unplayable", 4403: "revoked" }[code];
    setState(state, code, t(FINAL[code]));
  }

  connect();
  return {
    video,
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(retry);
      const ws = socket;
      socket = null;
      if (ws) ws.close(1000);
      resetMedia();
      video.load();
      box.remove();
    },
  };
}
