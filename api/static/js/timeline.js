// A camera's recordings on a day's timeline with its events marked (问题回溯): where video exists
// (gaps visible, motion shaded), event markers by type, zoom 24 h / 1 h / 10 min with pan, click to
// play from that moment, continuous playback across segments, ±10 s. Mounted by the camera page
// (cameras.js) into its <section id="camera-timeline">; also the console's zoned-time helpers.
import * as API from "./api.js";
import { dayKey, fmtDateTime, fmtTime, getTimeZone, t } from "./i18n.js";
import { can } from "./state.js";
import { clear, errorText, h, modal, toast, typeName } from "./util.js";

const DAY_MS = 86400e3;
const ZOOMS = [{ key: "24h", ms: DAY_MS }, { key: "1h", ms: 3600e3 }, { key: "10m", ms: 600e3 }];
const TICKS = { "24h": 3 * 3600e3, "1h": 10 * 60e3, "10m": 60e3 };
const DEBOUNCE_MS = 200;
const STEP_S = 10;

// ---- time in the console's zone ----
/** Milliseconds the console's time zone is ahead of UTC at instant `ms`. */
function zoneOffset(ms) {
  const f = new Intl.DateTimeFormat("en-US", { timeZone: getTimeZone(), hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000;
}
/** "YYYY-MM-DDTHH:MM:SS" (zone-local wall time, no zone) -> UTC milliseconds. */
export function fromZoneInput(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(text || "");
  if (!m) return NaN;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
  let ms = wall - zoneOffset(wall);
  ms = wall - zoneOffset(ms); // a second pass lands on the right side of a DST change
  return ms;
}
/** UTC milliseconds -> "YYYY-MM-DDTHH:MM:SS" in the console's zone (for <input type=datetime-local>). */
export function toZoneInput(ms) {
  return new Date(Math.floor(ms / 1000) * 1000 + zoneOffset(ms)).toISOString().slice(0, 19);
}
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const hhmm = (ms) => fmtTime(new Date(ms)).slice(0, 5);

// ---- pure helpers ----
/** Left and width (percent of the view) of [start, end) in the view [from, from + span). */
export function place(start, end, from, span) {
  const a = Math.max(start, from), b = Math.min(end, from + span);
  return b <= a ? null : { left: ((a - from) / span) * 100, width: Math.max(0.15, ((b - a) / span) * 100) };
}
/** The recording that covers instant `ms` (segments before clips and exports), else null. */
export function covering(recordings, ms) {
  const hits = recordings.filter((r) => r.startMs <= ms && ms < r.endMs);
  return hits.find((r) => r.kind === "segment") || hits[0] || null;
}
/** The first recording of `kind` that starts at or after `ms` (a 0.5 s overlap allowed). */
export function nextAfter(recordings, ms, kind) {
  return recordings.filter((r) => (!kind || r.kind === kind) && r.startMs >= ms - 500).sort((a, b) => a.startMs - b.startMs)[0] || null;
}
function withTimes(list) {
  return (list || []).map((r) => ({ ...r, startMs: Date.parse(r.start), endMs: Date.parse(r.end) })).sort((a, b) => a.startMs - b.startMs);
}

/** Render the timeline of `camera` into `container`; returns a function that tears it down. */
export function mountTimeline(container, camera) {
  const s = { day: dayKey(new Date()), zoom: 0, from: 0, recordings: [], events: [], current: null, seq: 0, loadSeq: 0, timer: 0, alive: true };
  s.from = fromZoneInput(s.day);
  const video = h("video.tl-video#timeline-video", { controls: true, muted: true, playsInline: true, preload: "metadata" });
  const status = h("div.tl-status.muted#timeline-status", { role: "status", "aria-live": "polite" });
  const nowLabel = h("span.tl-now#timeline-now", "—");
  const track = h("div.tl-track#timeline-track", { tabindex: 0, role: "group", "aria-label": t("tl.track"), onclick: onTrackClick, onkeydown: onTrackKey });
  const axis = h("div.tl-axis");
  const dayInput = h("input#timeline-day", { type: "date", value: s.day, max: dayKey(new Date()), "aria-label": t("tl.day"), onchange: (e) => { if (e.target.value) { s.day = e.target.value; s.from = fromZoneInput(s.day); view(); } } });
  const zoomButtons = ZOOMS.map((z, i) => h("button.ghost.tl-zoom", { type: "button", dataset: { zoom: z.key }, "aria-pressed": String(i === s.zoom), onclick: () => zoomTo(i) }, t(`tl.z${z.key}`)));
  const bar = h("div.tl-bar",
    h("b", t("tl.title")), dayInput,
    h("span.tl-group", { role: "group", "aria-label": t("tl.zoom") }, zoomButtons),
    h("button.ghost#timeline-prev", { type: "button", "aria-label": t("tl.panBack"), onclick: () => pan(-0.5) }, "◀"),
    h("button.ghost#timeline-next", { type: "button", "aria-label": t("tl.panOn"), onclick: () => pan(0.5) }, "▶"),
    h("button#timeline-back10", { type: "button", "aria-label": t("tl.back10"), onclick: () => step(-STEP_S) }, "−10 s"),
    h("button#timeline-fwd10", { type: "button", "aria-label": t("tl.fwd10"), onclick: () => step(STEP_S) }, "+10 s"),
    can("cases") ? h("button.ghost#timeline-export", { type: "button", onclick: exportRange }, t("tl.export")) : null,
    nowLabel);
  const root = h("div.timeline#timeline", { dataset: { camera: camera.id } }, bar, track, axis, status, video);
  clear(container).append(root);

  const span = () => ZOOMS[s.zoom].ms;
  const dayStart = () => fromZoneInput(s.day);
  const clamp = (from) => Math.min(Math.max(from, dayStart()), dayStart() + DAY_MS - span());
  const playingAt = () => (s.current && !s.current.clip ? s.current.rec.startMs + video.currentTime * 1000 : null);

  /** One list request per view change, debounced; stale answers are dropped. */
  function view() {
    status.textContent = t("loading");
    draw();
    clearTimeout(s.timer);
    s.timer = setTimeout(load, DEBOUNCE_MS);
  }
  async function load() {
    const seq = ++s.loadSeq, from = s.from, to = s.from + span();
    try {
      const data = await API.listRecordings(camera.id, { start: iso(from), end: iso(to) });
      if (!s.alive || seq !== s.loadSeq) return;
      s.recordings = withTimes(data.recordings);
      s.events = (data.events || []).map((e) => ({ ...e, atMs: Date.parse(e.occurred_at) }));
      status.textContent = "";
    } catch (err) {
      if (!s.alive || seq !== s.loadSeq) return;
      s.recordings = []; s.events = [];
      status.textContent = errorText(err);
    }
    draw();
  }

  function draw() {
    for (const [i, b] of zoomButtons.entries()) b.setAttribute("aria-pressed", String(i === s.zoom));
    dayInput.value = s.day;
    Object.assign(track.dataset, { from: String(s.from), span: String(span()) }); // the view, for tests and tools
    const blocks = s.recordings.map((r) => {
      const at = place(r.startMs, r.endMs, s.from, span());
      return at && h("div.tl-rec", { class: `${r.kind}${r.motion ? " motion" : ""}`, dataset: { id: r.id, kind: r.kind },
        style: `left:${at.left}%;width:${at.width}%`, title: `${t(`tl.k.${r.kind}`)} · ${fmtTime(r.start)}–${fmtTime(r.end)}` });
    });
    const markers = s.events.map((e) => {
      const at = place(e.atMs, e.atMs + 1, s.from, span());
      const label = `${typeName(e.type)} · ${fmtDateTime(e.occurred_at)}`;
      return at && h("button.tl-ev", { type: "button", class: e.type, dataset: { id: e.id, type: e.type }, style: `left:${at.left}%`,
        title: label, "aria-label": label, onclick: (ev) => { ev.stopPropagation(); playEvent(e); } });
    });
    const ticks = [];
    const every = TICKS[ZOOMS[s.zoom].key];
    for (let x = Math.ceil(s.from / every) * every; x <= s.from + span(); x += every) {
      ticks.push(h("span.tl-tick", { style: `left:${((x - s.from) / span()) * 100}%` }, hhmm(x)));
    }
    const empty = !s.recordings.length && status.textContent !== t("loading") ? h("div.tl-empty#timeline-empty",
      t("tl.none"), camera.record && camera.record.continuous === false ? h("div", t("tl.continuousOff")) : null) : null;
    clear(track).append(...blocks.filter(Boolean), ...markers.filter(Boolean), h("div.tl-playhead#timeline-playhead", { hidden: true }));
    if (empty) track.append(empty);
    clear(axis).append(...ticks);
    playhead();
  }

  function playhead() {
    const at = s.current ? (s.current.clip ? s.current.atMs : playingAt()) : null;
    const el = track.querySelector("#timeline-playhead");
    nowLabel.textContent = at == null ? "—" : fmtDateTime(new Date(at));
    if (!el) return;
    const inView = at != null && at >= s.from && at <= s.from + span();
    el.hidden = !inView;
    if (inView) el.style.left = `${((at - s.from) / span()) * 100}%`;
  }

  function zoomTo(i) {
    const centre = playingAt() ?? s.from + span() / 2;
    s.zoom = i;
    s.from = clamp(centre - span() / 2);
    view();
  }
  function pan(fraction) { s.from = clamp(s.from + fraction * span()); view(); }

  /** Load `rec` into the player and play from `offsetS` into it (after its metadata is known). */
  async function playRecording(rec, offsetS) {
    const seq = ++s.seq;
    const same = s.current && !s.current.clip && s.current.rec.id === rec.id && video.readyState >= 1;
    s.current = { rec };
    const seek = () => {
      if (seq !== s.seq) return;
      video.dataset.recordingId = String(rec.id); // once the player holds it (tests and tools wait on this)
      const d = Number.isFinite(video.duration) ? video.duration : offsetS + 1;
      video.currentTime = Math.max(0, Math.min(offsetS, d - 0.05));
      video.play().catch(() => {});
      playhead();
    };
    if (same) { seek(); return; }
    video.addEventListener("loadedmetadata", seek, { once: true });
    if (!(await API.loadVideo(video, rec.url)) && seq === s.seq) status.textContent = t("tl.failed");
  }

  /** Play the recording covering `ms`; in a gap, the next recording after it. */
  async function playAt(ms) {
    const rec = covering(s.recordings, ms);
    if (rec) { status.textContent = ""; return playRecording(rec, (ms - rec.startMs) / 1000); }
    const next = nextAfter(s.recordings, ms, "segment") || nextAfter(s.recordings, ms);
    if (next) { status.textContent = t("tl.gap"); return playRecording(next, 0); }
    status.textContent = t("tl.nothing");
  }

  function playEvent(e) {
    if (!e.clip_url) { playAt(e.atMs); return; }
    const seq = ++s.seq;
    s.current = { clip: e, atMs: e.atMs };
    video.dataset.recordingId = "";
    video.addEventListener("loadedmetadata", () => { if (seq === s.seq) video.play().catch(() => {}); }, { once: true });
    API.loadVideo(video, e.clip_url);
    playhead();
  }

  function step(seconds) {
    if (!s.current) return;
    if (s.current.clip) { video.currentTime = Math.max(0, video.currentTime + seconds); return; }
    const target = playingAt() + seconds * 1000;
    const { rec } = s.current;
    if (target >= rec.startMs && target < rec.endMs) { video.currentTime = (target - rec.startMs) / 1000; playhead(); return; }
    if (target < s.from || target > s.from + span()) { s.from = clamp(target - span() / 2); view(); }
    playAt(target);
  }

  /** At the end of a segment, the next one (continuous playback across segment boundaries). */
  async function onEnded() {
    if (!s.current || s.current.clip) return;
    const { rec } = s.current;
    let next = nextAfter(s.recordings.filter((r) => r.id !== rec.id), rec.endMs, rec.kind);
    if (!next) {
      try {
        const data = await API.listRecordings(camera.id, { start: iso(rec.endMs - 500), end: iso(rec.endMs + 3600e3) });
        next = nextAfter(withTimes(data.recordings).filter((r) => r.id !== rec.id), rec.endMs, rec.kind);
      } catch { next = null; }
    }
    if (!s.alive || !next) return;
    if (next.startMs > s.from + span()) { s.from = clamp(next.startMs - span() / 10); view(); }
    playRecording(next, 0);
  }

  /** Operators: a range of this camera (30 s around the playhead, or the 10 min view) → a case's evidence. */
  async function exportRange() {
    const at = playingAt() ?? (s.current?.atMs ?? s.from + span() / 2);
    const [from, to] = ZOOMS[s.zoom].ms <= 600e3 && !s.current ? [s.from, s.from + span()] : [at - 30e3, at + 30e3];
    const input = (id, value) => h(`input#${id}`, { name: id, type: "datetime-local", step: 1, value: toZoneInput(value), required: true });
    const answer = await modal(t("tl.export"), h("div",
      h("label", { for: "tl-case" }, t("tl.caseId")), h("input#tl-case", { name: "case", type: "number", min: 1, required: true }),
      h("label", { for: "tl-start" }, t("c.exportStart")), input("tl-start", from),
      h("label", { for: "tl-end" }, t("c.exportEnd")), input("tl-end", to)), { okText: t("c.export") });
    if (!answer) return;
    const start = fromZoneInput(answer["tl-start"]), end = fromZoneInput(answer["tl-end"]);
    if (!(end > start) || !(Number(answer.case) > 0)) { toast(t("c.badRange"), "error"); return; }
    try {
      await API.exportToCase(Number(answer.case), { camera_id: camera.id, start: iso(start), end: iso(end) });
      toast(`${t("c.exported")} #${answer.case}`, "ok");
    } catch (err) { toast(errorText(err), "error"); }
  }

  function onTrackClick(e) {
    const box = track.getBoundingClientRect();
    if (!box.width) return;
    const at = s.from + ((e.clientX - box.left) / box.width) * span();
    // blocks narrower than a pixel overlap on screen: the earliest one under the pointer plays, from
    // its start (a sliver has no position inside it to click); a wide block plays from the click
    const ids = document.elementsFromPoint(e.clientX, e.clientY).filter((el) => el.classList.contains("tl-rec")).map((el) => el.dataset.id);
    const under = s.recordings.filter((r) => ids.includes(String(r.id))).sort((a, b) => a.startMs - b.startMs);
    const block = under[0];
    if (block) {
      const wide = ((block.endMs - block.startMs) / span()) * box.width >= 6;
      playRecording(block, wide ? Math.min(Math.max(at - block.startMs, 0), block.endMs - block.startMs - 100) / 1000 : 0);
      return;
    }
    playAt(at);
  }
  function onTrackKey(e) {
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") { e.preventDefault(); pan(e.key === "ArrowLeft" ? -0.25 : 0.25); }
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); playAt(s.from + span() / 2); }
  }

  video.addEventListener("timeupdate", playhead);
  video.addEventListener("ended", onEnded);
  view();
  return () => {
    s.alive = false;
    clearTimeout(s.timer);
    video.pause();
    video.removeAttribute("src");
    video.load();
    clear(container);
  };
}
