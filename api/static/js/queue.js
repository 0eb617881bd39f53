// The alert queue: pending events newest first, live; judge each from the keyboard.
import * as API from "./api.js";
import { annotateButton } from "./annotate.js";
import { fmtDateTime, fmtDuration, fmtTime, t } from "./i18n.js";
import { can, onLive, setPending, store } from "./state.js";
import { clear, errorText, h, modal, objectName, toast, typeName } from "./util.js";
import { plateChip } from "./vehicles.js";

const REASONS = ["not_violation", "wrong_object", "outside_zone", "duplicate", "bad_image", "other"];
const EVIDENCE_ORDER = ["entry", "middle", "trigger"];
const state = { events: [], total: 0, selected: null, filters: { status: "pending" }, skipped: new Set(), pushed: new Set(), busy: false };
let root = null, unsubscribe = null, timer = null, keyHandler = null;

function cameraOf(event) { return store.cameraById.get(event.camera_id) || { name: event.camera_id, district: "", street: "" }; }
function place(event) { const c = cameraOf(event); return [c.district, c.street].filter(Boolean).join(" · "); }

function matches(event) {
  const f = state.filters, camera = cameraOf(event);
  if (f.status && f.status !== "all" && event.review_status !== f.status) return false;
  if (f.type && event.type !== f.type) return false;
  if (f.camera && event.camera_id !== f.camera) return false;
  if (f.district && camera.district !== f.district) return false;
  if (f.street && camera.street !== f.street) return false;
  return true;
}
/** Pending repeats of one case as one review item: its newest event (the list is newest first),
 * carrying the ids of all of them (`repeats`), so one decision can cover the lot. */
function grouped(list) {
  const out = [], byCase = new Map();
  for (const e of list) {
    if (e.review_status !== "pending" || !e.case_id) { out.push(e); continue; }
    const lead = byCase.get(e.case_id);
    if (lead) { lead.repeats.push(e.id); continue; }
    e.repeats = [e.id];
    byCase.set(e.case_id, e);
    out.push(e);
  }
  return out;
}
function visible() { return grouped(state.events.filter(matches)); }
function selectedIndex(list = visible()) { return list.findIndex((e) => e.id === state.selected); }

/** Seconds the object has been there: total once it left, else dwell at trigger plus time since. */
export function durationSoFar(event, now = Date.now()) {
  if (event.duration_s != null) return event.duration_s;
  const atTrigger = (event.triggered_s ?? 0) - (event.first_seen_s ?? 0);
  return atTrigger + Math.max(0, (now - new Date(event.occurred_at).getTime()) / 1000);
}

function query(offset = 0) {
  const status = state.filters.status === "all" ? undefined : state.filters.status;
  return { type: state.filters.type, camera_id: state.filters.camera, review_status: status, offset };
}

async function load() {
  const page = await API.listEvents(query());
  state.events = API.items(page);
  state.total = page.total ?? state.events.length;
  if (!visible().some((e) => e.id === state.selected)) state.selected = visible()[0]?.id ?? null;
}

/** The next page of the list (200 at a time), appended: a long queue is never cut off. */
async function loadMore() {
  const page = await API.listEvents(query(state.events.length));
  const known = new Set(state.events.map((e) => e.id));
  state.events = state.events.concat(API.items(page).filter((e) => !known.has(e.id)));
  state.total = page.total ?? state.total;
  draw();
}

function options(name, values, label) {
  const select = h("select", { name, "aria-label": label, onchange: async (e) => {
    state.filters[name] = e.target.value;
    if (name === "type" || name === "camera" || name === "status") await load();
    if (!visible().some((ev) => ev.id === state.selected)) state.selected = visible()[0]?.id ?? null;
    draw();
  } }, values.map(([value, text]) => h("option", { value, selected: (state.filters[name] || "") === value }, text)));
  return h("label.filter", h("span", label), select);
}

function filterBar() {
  const cams = store.cameras;
  const uniq = (xs) => [...new Set(xs.filter(Boolean))].sort();
  const types = uniq(["illegal_parking", ...state.events.map((e) => e.type), ...cams.flatMap((c) => (c.rules || []).map((r) => r.type))]);
  const all = [["", t("f.all")]];
  return h("div.filters",
    options("type", [...all, ...types.map((x) => [x, typeName(x)])], t("f.type")),
    options("camera", [...all, ...cams.map((c) => [c.id, c.name || c.id])], t("f.camera")),
    options("district", [...all, ...uniq(cams.map((c) => c.district)).map((x) => [x, x])], t("f.district")),
    options("street", [...all, ...uniq(cams.map((c) => c.street)).map((x) => [x, x])], t("f.street")),
    options("status", [["pending", t("review.pending")], ["confirmed", t("review.confirmed")], ["rejected", t("review.rejected")], ["suppressed", t("review.suppressed")], ["all", t("f.all")]], t("f.status")),
    h("span.spacer"),
    h("span.keys", t("q.keys")));
}

function row(event) {
  const selected = event.id === state.selected;
  const img = h("img.thumb", { alt: "", loading: "lazy" });
  API.loadImage(img, event.snapshot_url);
  return h("li.event-row", {
    class: [selected && "selected", state.skipped.has(event.id) && "skipped", event.fresh && "fresh"].filter(Boolean).join(" "),
    dataset: { id: event.id, status: event.review_status }, id: `event-${event.id}`,
    onclick: () => { state.selected = event.id; draw(); },
  }, img,
  h("div.row-main",
    h("div.row-top", h("b.type", { class: event.type }, typeName(event.type)),
      (event.repeats || []).length > 1 ? h("span.repeat-count", { title: t("q.repeats") }, `×${event.repeats.length}`) : null,
      h("span.time", fmtTime(event.occurred_at))),
    h("div.row-sub", plateChip(event.plate), cameraOf(event).name || event.camera_id),
    h("div.row-sub.muted", place(event), " · ", h("span.dur", { dataset: { id: event.id } }, fmtDuration(durationSoFar(event))))),
  h("span.status-dot", { class: event.review_status, title: t(`review.${event.review_status}`) }));
}

function evidenceList(event) {
  const list = [...(event.evidence || [])].sort((a, b) => EVIDENCE_ORDER.indexOf(a.kind) - EVIDENCE_ORDER.indexOf(b.kind));
  return list.length ? list : [{ kind: "trigger", url: event.snapshot_url }];
}

/** The event's clip (pre_s before the trigger to post_s after it), when one was recorded. */
function clipPlayer(event) {
  if (!event.clip_url) return null;
  const video = h("video.clip#event-clip", { controls: true, preload: "metadata", muted: true, playsInline: true });
  API.loadVideo(video, event.clip_url);
  return video;
}

function detail(event) {
  if (!event) return h("div.detail.empty", h("p", t("q.empty")));
  const camera = cameraOf(event);
  const big = h("img.evidence-big#evidence-big", { alt: typeName(event.type) });
  API.loadImage(big, event.snapshot_url);
  const strip = h("div.strip", evidenceList(event).map((item) => {
    const img = h("img", { alt: t(`ev.${item.kind}`) });
    API.loadImage(img, item.url);
    return h("figure.frame", { class: item.kind === "trigger" ? "active" : "", dataset: { kind: item.kind }, onclick: (e) => {
      for (const f of e.currentTarget.parentElement.children) f.classList.remove("active");
      e.currentTarget.classList.add("active");
      API.loadImage(big, item.url);
    } }, img, h("figcaption", t(`ev.${item.kind}`)));
  }));
  const ended = event.duration_s != null;
  const pending = event.review_status === "pending";
  const actions = can("review") ? h("div.actions.review-actions",
    h("button.primary#btn-confirm", { disabled: !pending, onclick: confirm }, t("a.confirm"), h("kbd", "C")),
    h("button.danger#btn-reject", { disabled: !pending, onclick: reject }, t("a.reject"), h("kbd", "R")),
    h("button#btn-skip", { onclick: skip }, t("a.skip"), h("kbd", "S")),
    h("button.ghost#btn-open", { onclick: openViewer }, t("a.open"), h("kbd", "O")), annotateButton(event)) : h("div.actions", h("span.muted", t(`review.${event.review_status}`)));
  const repeats = (event.repeats || []).length;
  const bulkActions = pending && repeats > 1 && can("review") ? h("div.actions.bulk-actions",
    h("span.muted", t("q.group").replace("{n}", String(repeats))),
    h("button.primary#btn-confirm-all", { onclick: () => bulk("confirm") }, `${t("a.confirmAll")} (${repeats})`),
    h("button.danger#btn-reject-all", { onclick: () => bulk("reject") }, `${t("a.rejectAll")} (${repeats})`)) : null;
  return h("div.detail", { dataset: { id: event.id } },
    h("div.detail-head",
      h("h2", h("span.type-badge", { class: event.type }, typeName(event.type)), ` #${event.id}`),
      h("span.review-chip", { class: event.review_status }, t(`review.${event.review_status}`)),
      event.case_id ? h("a", { href: `#/case/${event.case_id}` }, `${t("d.case")} #${event.case_id}`) : null),
    h("div.evidence", big, strip, clipPlayer(event)),
    h("dl.facts",
      h("dt", t("d.duration")), h("dd.big#duration", { class: ended ? "" : "ongoing" }, fmtDuration(durationSoFar(event)), " ", h("small#end-reason", t(!ended ? "d.ongoing" : event.end_reason === "source_ended" ? "d.endedWithFootage" : event.end_reason === "rule_idle" ? "d.endedRuleIdle" : "d.ended"))),
      h("dt", t("f.camera")), h("dd", h("a", { href: `#/camera/${encodeURIComponent(event.camera_id)}` }, camera.name || event.camera_id)),
      h("dt", t("d.place")), h("dd", place(event) || "—"),
      h("dt", t("d.time")), h("dd", fmtDateTime(event.occurred_at)),
      event.plate ? [h("dt", t("pl.plate")), h("dd#event-plate", plateChip(event.plate, { link: true }))] : null,
      h("dt", t("d.object")), h("dd", `${objectName(event.label)}${event.score != null ? ` · ${Math.round(event.score * 100)}%` : ""}`),
      h("dt", t("d.zone")), h("dd", `${zoneName(camera, event.zone_id)} · ${typeName(event.type)}`)),
    actions, bulkActions);
}

function draw() {
  if (!root) return;
  const list = visible();
  const selected = list.find((e) => e.id === state.selected) || null;
  const ul = h("ul.event-list#event-list", list.map(row));
  const more = state.total > state.events.length
    ? h("button.ghost#load-more", { type: "button", onclick: () => loadMore().catch(() => {}) }, `${t("q.more")} (${t("q.remaining")} ${state.total - state.events.length})`)
    : null;
  clear(root).append(filterBar(), h("div.queue", h("div.list-pane", h("div.list-head", `${list.length} · ${t(`review.${state.filters.status}`) || ""}`), ul, more), detail(selected)));
  document.querySelector(`#event-${state.selected}`)?.scrollIntoView({ block: "nearest" });
  const pending = state.events.filter((e) => e.review_status === "pending").length;
  const badge = document.getElementById("queue-count");
  if (badge) badge.textContent = pending ? String(pending) : "";
  // the whole pending list is loaded: the title's count follows it at once (else state.js counts)
  const f = state.filters;
  if (f.status === "pending" && !f.type && !f.camera && state.events.length < 200) setPending(pending);
}

function move(step) {
  const list = visible();
  if (!list.length) return;
  const i = selectedIndex(list);
  const next = Math.min(list.length - 1, Math.max(0, (i < 0 ? 0 : i + step)));
  state.selected = list[next].id;
  draw();
}

/** After an event leaves the view, select the one that took its place. */
function advanceFrom(id) {
  const before = visible();
  const i = before.findIndex((e) => e.id === id);
  return () => {
    const after = visible();
    if (!after.length) { state.selected = null; return; }
    if (after.some((e) => e.id === id)) { state.selected = after[Math.min(after.length - 1, after.findIndex((e) => e.id === id) + 1)].id; return; }
    state.selected = after[Math.min(Math.max(0, i), after.length - 1)].id;
  };
}

function current() { return state.events.find((e) => e.id === state.selected); }

async function confirm() {
  const event = current();
  if (!event || event.review_status !== "pending" || state.busy) return;
  state.busy = true;
  const advance = advanceFrom(event.id);
  try {
    const result = await API.reviewEvent(event.id, "confirm");
    event.review_status = "confirmed";
    const caseId = result?.case?.id ?? result?.case_id ?? null;
    event.case_id = caseId;
    advance();
    draw();
    const status = result?.case?.status;
    toast(status && status !== "registered" ? t("toast.attached").replace("{id}", caseId).replace("{status}", t(`cs.${status}`)) : `${t("toast.confirmed")}${caseId ? ` #${caseId}` : ""}`, "ok");
  } catch (err) { toast(errorText(err), "error"); } finally { state.busy = false; }
}

/** Ask why these are false alarms; the reason text, or null when cancelled. */
async function askReason(title) {
  const choices = h("div.reasons", REASONS.map((key, i) => h("label.reason",
    h("input", { type: "radio", name: "reason", value: key, checked: i === 0 }), h("kbd", String(i + 1)), t(`reason.${key}`))));
  const body = h("div", choices, h("label", t("c.note")), h("input", { name: "note", autocomplete: "off", id: "reject-note" }));
  body.addEventListener("keydown", (e) => {
    if (e.target.id === "reject-note") return;
    const n = Number(e.key);
    if (n >= 1 && n <= REASONS.length) { e.preventDefault(); choices.querySelectorAll("input")[n - 1].checked = true; }
  });
  const answer = await modal(title, body, { okText: t("a.reject"), danger: true });
  return answer ? [t(`reason.${answer.reason}`), answer.note].filter(Boolean).join(" — ") : null;
}

async function reject() {
  const event = current();
  if (!event || event.review_status !== "pending" || state.busy) return;
  const reason = await askReason(`${t("reject.title")} · #${event.id}`);
  if (!reason) return;
  state.busy = true;
  const advance = advanceFrom(event.id);
  try {
    await API.reviewEvent(event.id, "reject", reason);
    event.review_status = "rejected";
    advance();
    draw();
    toast(t("toast.rejected"), "ok");
  } catch (err) { toast(errorText(err), "error"); } finally { state.busy = false; }
}

/** One decision for every pending repeat of the selected item's case (each stored on its own). */
async function bulk(action) {
  const event = current();
  const ids = event?.repeats || [];
  if (ids.length < 2 || state.busy) return;
  const reason = action === "reject" ? await askReason(`${t("reject.title")} · ${ids.length}`) : undefined;
  if (action === "reject" && !reason) return;
  state.busy = true;
  const advance = advanceFrom(event.id);
  try {
    const answer = await API.bulkReview(ids, action, reason);
    const done = new Set(answer.results.filter((r) => r.status === 200).map((r) => r.id));
    for (const e of state.events) if (done.has(e.id)) e.review_status = action === "confirm" ? "confirmed" : "rejected";
    advance();
    draw();
    toast(t("toast.bulk").replace("{n}", String(answer.reviewed)).replace("{of}", String(ids.length)), answer.reviewed === ids.length ? "ok" : "error");
  } catch (err) { toast(errorText(err), "error"); } finally { state.busy = false; }
}

function skip() {
  const event = current();
  if (!event) return;
  state.skipped.add(event.id);
  move(1);
}

function openViewer() {
  const event = current();
  if (!event) return;
  const items = evidenceList(event);
  let index = Math.max(0, items.findIndex((x) => x.kind === "trigger"));
  const img = h("img.viewer-img", { alt: "" });
  const caption = h("div.viewer-caption");
  const show = () => { API.loadImage(img, items[index].url); caption.textContent = `${typeName(event.type)} #${event.id} · ${t(`ev.${items[index].kind}`)} (${index + 1}/${items.length}) · ←/→ · Esc`; };
  const dialog = h("dialog.viewer#viewer", { onclick: () => dialog.close() }, img, caption);
  dialog.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight" || e.key === "l") { index = (index + 1) % items.length; show(); }
    else if (e.key === "ArrowLeft" || e.key === "h") { index = (index + items.length - 1) % items.length; show(); }
    else if (e.key === "o" || e.key === "Enter") { e.preventDefault(); dialog.close(); }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  show();
  dialog.showModal();
}

function onKey(e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  if (document.querySelector("dialog[open]")) return;
  if (e.target.closest && e.target.closest("input, select, textarea")) return;
  const actions = { j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1), o: openViewer, Enter: openViewer };
  if (can("review")) Object.assign(actions, { c: confirm, r: reject, s: skip });
  const action = actions[e.key];
  if (action) { e.preventDefault(); action(); }
}

async function onMessage(message) {
  if (message.kind === "event") {
    if (state.pushed.has(message.data.id) || state.events.some((e) => e.id === message.data.id)) return;
    state.pushed.add(message.data.id);
    const event = await API.getEvent(message.data.id);
    if (state.events.some((e) => e.id === event.id)) return;
    event.fresh = true;
    state.events.unshift(event);
    if (state.selected == null && matches(event)) state.selected = event.id;
    draw();
    if (matches(event)) toast(`${t("q.new")}: ${typeName(event.type)} · ${cameraOf(event).name || event.camera_id}`);
  } else if (message.kind === "change") {
    const m = message.data.path.match(/^\/api\/events\/(\d+)\/review/);
    const known = m && state.events.find((e) => e.id === Number(m[1]));
    if (known && known.review_status === "pending") {
      const fresh = await API.getEvent(known.id);
      const advance = known.id === state.selected ? advanceFrom(known.id) : null;
      Object.assign(known, fresh);
      if (advance) advance();
      draw();
    }
  }
}

export async function render(main) {
  root = h("section.queue-page");
  main.append(root);
  root.append(h("p.muted", t("loading")));
  await load();
  draw();
  unsubscribe = onLive((m) => { onMessage(m).catch((err) => console.warn("queue update", err)); });
  keyHandler = onKey;
  document.addEventListener("keydown", keyHandler);
  timer = setInterval(() => {
    for (const el of document.querySelectorAll(".dur[data-id]")) {
      const event = state.events.find((e) => e.id === Number(el.dataset.id));
      if (event) el.textContent = fmtDuration(durationSoFar(event));
    }
    const event = current(), d = document.getElementById("duration");
    if (event && d && d.firstChild) d.firstChild.textContent = fmtDuration(durationSoFar(event));
  }, 1000);
}

export function leave() {
  if (unsubscribe) unsubscribe();
  if (keyHandler) document.removeEventListener("keydown", keyHandler);
  clearInterval(timer);
  root = null;
}

/** The zone's configured name (its id when it has none). */
function zoneName(camera, zoneId) {
  if (!zoneId) return "—";
  const zone = (camera.zones || []).find((z) => z.id === zoneId);
  return (zone && zone.name) || zoneId;
}
