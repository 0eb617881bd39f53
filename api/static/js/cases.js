// The case board (by status, overdue marked) and the case page (events, photos, clips, exported
// video, audit trail, workflow).
import * as API from "./api.js";
import { annotateButton } from "./annotate.js";
import { fmtDateTime, t } from "./i18n.js";
import { can, onLive, store } from "./state.js";
import { fromZoneInput, toZoneInput } from "./timeline.js";
import { actorName, clear, errorText, h, modal, objectName, toast, typeName } from "./util.js";
import { plateChip } from "./vehicles.js";

const COLUMNS = ["new", "registered", "dispatched", "handled", "verified", "closed"];
let root = null, unsubscribe = null, args = null;
let revealed = null;  // {caseId, owner}: the full number an operator looked up, shown until the page is left

function statusName(status, fallback) { const s = t(`cs.${status}`); return s === status ? (fallback || status) : s; }
function statusChip(c) { return h("span.status-chip", { class: c.status, id: "case-status", dataset: { status: c.status } }, statusName(c.status, c.status_label)); }
function place(c) {
  const camera = store.cameraById.get(c.camera_id);
  return [c.district || camera?.district, c.street || camera?.street, c.location].filter(Boolean).join(" · ");
}

// ---- board ----
const TYPES = ["illegal_parking", "non_motor_parking", "parking_space_occupied", "litter", "floating_debris", "waterlogging"];
const boardFilters = { district: "", type: "", overdue: false };
const PER_COLUMN = 60;

function districts() {
  return [...new Set(store.cameras.map((c) => c.district).filter(Boolean))].sort();
}

/** One request per column: its `total` is the true count, its items the newest cases of that
 *  status (so an old open case never falls off the board behind newer closed ones). */
async function loadColumns() {
  const query = { district: boardFilters.district, type: boardFilters.type, overdue: boardFilters.overdue ? "true" : undefined };
  const pages = await Promise.all(COLUMNS.concat("rejected").map((status) => API.listCases({ ...query, status, limit: PER_COLUMN })));
  return Object.fromEntries(COLUMNS.concat("rejected").map((status, i) => [status, pages[i]]));
}

async function renderBoard() {
  const pages = await loadColumns();
  if (!root || args?.name === "case") return;
  const card = (c) => h("a.case-card", { href: `#/case/${c.id}`, class: c.overdue ? "overdue" : "", dataset: { id: c.id } },
    h("div.row-top", h("b", `#${c.id} ${typeName(c.type)}`), c.overdue ? h("span.overdue-tag", t("c.overdue")) : null),
    h("div.meta", place(c) || c.camera_id || "—"),
    c.source === "hotline" ? h("div.meta", `${t("c.hotline")}: ${c.hotline_ticket}`) : null,
    c.team ? h("div.meta", `${t("c.team")}: ${c.team}`) : null,
    c.deadline ? h("div.meta", `${t("c.deadline")}: ${fmtDateTime(c.deadline)}`) : null,
    h("div.meta", `${t("c.events")}: ${c.event_count ?? 0} · ${fmtDateTime(c.created_at)}`));
  const columns = COLUMNS.map((status) => {
    const page = pages[status];
    const list = API.items(page).slice().sort((a, b) => (b.overdue - a.overdue) || (b.id - a.id));
    return h("div.column", { dataset: { status } },
      h("h3", h("span", statusName(status)), h("span.count", String(page.total ?? list.length))), list.map(card));
  });
  const total = COLUMNS.reduce((n, s) => n + (pages[s].total || 0), 0);
  const rejected = pages.rejected.total || 0;
  const select = (id, value, options, label, onchange) => h(`select#${id}`, { "aria-label": label, onchange },
    h("option", { value: "" }, `${label}: ${t("f.all")}`), options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  const filters = h("div.filters",
    h("b", t("nav.cases")),
    select("board-district", boardFilters.district, districts().map((d) => [d, d]), t("f.district"),
      (e) => { boardFilters.district = e.target.value; renderBoard().catch(() => {}); }),
    select("board-type", boardFilters.type, TYPES.map((x) => [x, typeName(x)]), t("f.type"),
      (e) => { boardFilters.type = e.target.value; renderBoard().catch(() => {}); }),
    h("label.check", h("input#board-overdue", { type: "checkbox", checked: boardFilters.overdue,
      onchange: (e) => { boardFilters.overdue = e.target.checked; renderBoard().catch(() => {}); } }), t("c.overdueOnly")),
    h("span.muted#board-summary", `${t("c.total")}: ${total}${rejected ? ` · ${statusName("rejected")}: ${rejected}` : ""}`),
    can("cases") ? h("button.primary#btn-hotline", { type: "button", onclick: openHotline }, t("c.newHotline")) : null);
  clear(root).append(filters, total ? h("div.board#board", columns) : h("p.muted", t("c.none")));
}

/** 12345 热线工单 → a case in the same workflow (it starts 立案). */
async function openHotline() {
  const field = (id, label, input) => [h("label", { for: id }, label), input];
  const answer = await modal(t("c.newHotline"), h("div",
    field("f-ticket", t("c.ticket"), h("input#f-ticket", { name: "ticket", required: true, autocomplete: "off", placeholder: "12345-20261128-0042" })),
    field("f-type", t("f.type"), h("select#f-type", { name: "type" }, TYPES.map((x) => h("option", { value: x }, typeName(x))))),
    field("f-location", t("c.location"), h("input#f-location", { name: "location", required: true, autocomplete: "off" })),
    field("f-district", t("f.district"), h("select#f-district", { name: "district" }, h("option", { value: "" }, "—"),
      districts().map((d) => h("option", { value: d, selected: d === boardFilters.district }, d)))),
    field("f-street", t("f.street"), h("input#f-street", { name: "street", autocomplete: "off" })),
    field("f-camera", t("f.camera"), h("select#f-camera", { name: "camera_id" }, h("option", { value: "" }, "—"),
      store.cameras.map((c) => h("option", { value: c.id }, c.name || c.id)))),
    field("f-description", t("c.description"), h("textarea#f-description", { name: "description", rows: 3, required: true }))),
  { okText: t("c.newHotline") });
  if (!answer) return;
  try {
    const created = await API.createHotlineCase({
      source: "hotline", ticket: answer.ticket.trim(), type: answer.type, location: answer.location.trim(),
      description: answer.description.trim(), district: answer.district, street: answer.street.trim(),
      camera_id: answer.camera_id || undefined,
    });
    toast(`#${created.id} ${t("cs.registered")}`, "ok");
    location.hash = `#/case/${created.id}`;
  } catch (err) { toast(errorText(err), "error"); }
}

// ---- case page ----
function transitionLabel(c, to) {
  if (to === "dispatched" && c.status === "handled") return t("t.redispatch");
  if (to === "dispatched" && c.status === "closed") return t("t.reopen");
  const s = t(`t.${to}`);
  return s === to ? `${t("t.reopen")} → ${statusName(to)}` : s;
}

async function runTransition(c, to) {
  let body = {};
  if (to === "dispatched") {
    // the configured teams (one name, whatever the console's language), those of the case's district first
    const configured = (store.config && store.config.teams) || [];
    const serving = configured.filter((x) => !x.district || x.district === c.district);
    const teams = (serving.length ? serving : configured).map((x) => x.name);
    if (c.team && !teams.includes(c.team)) teams.unshift(c.team);
    // the rule's time allowed (case.deadline_h) is the default; a hotline ticket keeps its intake deadline
    const keepIntake = c.source === "hotline" && c.deadline && c.status === "registered";
    const allowed = c.deadline_h || 2;
    const hours = [...new Set([1, 2, 4, 8, 24, 72, allowed])].sort((a, b) => a - b);
    const hourOptions = hours.map((n) => h("option", { value: n, selected: !keepIntake && n === allowed }, `${n} ${t("c.h")}`));
    if (keepIntake) hourOptions.unshift(h("option", { value: "", selected: true }, `${t("c.intakeDeadline")} ${fmtDateTime(c.deadline)}`));
    const answer = await modal(`${transitionLabel(c, to)} · #${c.id}`, h("div",
      h("label", { for: "f-team" }, t("c.team")),
      h("select#f-team", { name: "team" }, teams.map((x) => h("option", { value: x, selected: x === c.team }, x))),
      h("label", { for: "f-hours" }, `${t("c.hours")} (${t("c.h")})`),
      h("select#f-hours", { name: "hours" }, hourOptions),
      h("label", { for: "f-note" }, t("c.note")), h("input#f-note", { name: "note", autocomplete: "off" })), { okText: transitionLabel(c, to) });
    if (!answer) return;
    const deadline = answer.hours === "" ? undefined : new Date(Date.now() + Number(answer.hours) * 3600e3).toISOString();
    body = { team: answer.team, deadline, note: answer.note || undefined };
  } else {
    const required = to === "handled" || to === "rejected";
    // 处置照片: the team's on-site photos, uploaded before the step that cites them
    const photos = to === "handled" ? h("input#f-photos", { type: "file", accept: "image/jpeg,image/png", multiple: true }) : null;
    const answer = await modal(`${transitionLabel(c, to)} · #${c.id}`, h("div",
      h("label", { for: "f-note" }, to === "handled" ? t("c.disposal") : t("c.note")),
      h("textarea#f-note", { name: "note", rows: 3, required }),
      photos ? [h("label", { for: "f-photos" }, t("c.handlingPhotos")), photos] : null), { okText: transitionLabel(c, to), danger: to === "rejected" });
    if (!answer) return;
    body = { note: answer.note || undefined };
    if (photos && photos.files.length) {
      try {
        body.attachments = [];
        for (const file of photos.files) body.attachments.push((await API.uploadCasePhoto(c.id, file)).url);
      } catch (err) { toast(errorText(err), "error"); return; }
    }
  }
  try {
    await API.transitionCase(c.id, to, body);
    toast(`#${c.id} → ${statusName(to)}`, "ok");
    await renderCase(c.id);
  } catch (err) { toast(errorText(err), "error"); }
}

/** 待审核 → 立案 → 派遣 → 处置 → 核查 → 结案, the current step highlighted. */
function stepper(c) {
  const at = COLUMNS.indexOf(c.status);
  if (at < 0) return null;
  return h("ol.stepper", COLUMNS.map((status, i) => h("li", { class: i < at ? "done" : i === at ? "current" : "" }, statusName(status))));
}

function auditEntry(a) {
  const data = a.data || {};
  const change = a.from_status && a.to_status && a.from_status !== a.to_status ? `${statusName(a.from_status)} → ${statusName(a.to_status)}` : (a.to_status ? statusName(a.to_status) : "");
  const extra = [data.team && `${t("c.team")}: ${data.team}`, data.deadline && `${t("c.deadline")}: ${fmtDateTime(data.deadline)}`].filter(Boolean).join(" · ");
  return h("li", { dataset: { action: a.action, to: a.to_status || "" } },
    h("div.when", fmtDateTime(a.at), " · ", h("b", actorName(a.actor))),
    h("div", `${t(`au.${a.action}`) === a.action ? a.action : t(`au.${a.action}`)} ${change}`),
    extra ? h("div.muted", extra) : null,
    a.note ? h("div", `“${a.note}”`) : null,
    (a.attachments || []).length ? h("div.attachments", a.attachments.map(attachment)) : null);
}

/** An uploaded case photo as a thumbnail (fetched with the token); any other reference as a link. */
function attachment(ref) {
  if (!/^\/api\/cases\/\d+\/photos\/[0-9a-f]{64}\.(jpg|png)$/.test(ref)) return h("a", { href: ref, target: "_blank", rel: "noopener" }, ref.split("/").pop());
  const img = h("img.photo", { alt: t("c.handlingPhotos"), loading: "lazy" });
  API.loadImage(img, ref);
  return img;
}

// ---- case video: the events' clips, the exported ranges, the export control ----
function player(id, url) {
  const video = h("video", { id, controls: true, preload: "metadata", muted: true, playsInline: true });
  API.loadVideo(video, url);
  return video;
}

function clipsPanel(events) {
  const withClips = events.filter((e) => e.clip_url);
  if (!withClips.length) return null;
  return h("div.panel#case-clips", h("h3", `${t("c.clips")} (${withClips.length})`), h("div.case-videos",
    withClips.map((e) => h("figure", player(`case-clip-${e.id}`, e.clip_url), h("figcaption", `#${e.id} ${typeName(e.type)} · ${fmtDateTime(e.occurred_at)}`)))));
}

function exportsPanel(c) {
  const exports = c.exports || [];
  const list = exports.length ? h("div.case-videos#case-exports", exports.map((x) => h("figure", { dataset: { id: x.id } },
    player(`export-video-${x.id}`, x.url),
    h("figcaption", h("span", `${store.cameraById.get(x.camera_id)?.name || x.camera_id} · ${fmtDateTime(x.start)} – ${fmtDateTime(x.end)}`),
      h("a.export-download", { href: x.url, download: `case-${c.id}-export-${x.id}.mp4`, onclick: (e) => { e.preventDefault(); API.download(x.url, `case-${c.id}-export-${x.id}.mp4`).catch((err) => toast(errorText(err), "error")); } }, t("c.download"))))))
    : h("p.muted#case-exports-empty", t("c.noExports"));
  return h("div.panel", h("h3", `${t("c.exports")} (${exports.length})`), list, can("cases") ? exportForm(c) : null);
}

/** Operators only: a camera and a range (default 30 s around the case's first event) → POST, then the list. */
function exportForm(c) {
  const first = (c.events || []).map((e) => Date.parse(e.occurred_at)).filter(Number.isFinite).sort((a, b) => a - b)[0] ?? Date.now() - 30e3;
  const camera = h("select#export-camera", { "aria-label": t("f.camera") }, store.cameras.map((cam) => h("option", { value: cam.id, selected: cam.id === c.camera_id }, cam.name || cam.id)));
  if (c.camera_id && !store.cameraById.has(c.camera_id)) camera.append(h("option", { value: c.camera_id, selected: true }, c.camera_id));
  const field = (id, value) => h(`input#${id}`, { type: "datetime-local", step: 1, value: toZoneInput(value), required: true });
  const start = field("export-start", first - 30e3), end = field("export-end", first + 30e3);
  const button = h("button.primary#btn-export", { type: "submit" }, t("c.export"));
  return h("form.export-form#export-form", { onsubmit: async (e) => {
    e.preventDefault();
    const from = fromZoneInput(start.value), to = fromZoneInput(end.value);
    if (!(to > from)) { toast(t("c.badRange"), "error"); return; }
    button.disabled = true; button.textContent = t("c.exporting");
    try {
      await API.exportToCase(c.id, { camera_id: camera.value, start: new Date(from).toISOString(), end: new Date(to).toISOString() });
      toast(t("c.exported"), "ok");
      await renderCase(c.id);
    } catch (err) { toast(errorText(err), "error"); button.disabled = false; button.textContent = t("c.export"); }
  } },
  h("label", { for: "export-camera" }, t("f.camera")), camera, h("label", { for: "export-start" }, t("c.exportStart")), start,
  h("label", { for: "export-end" }, t("c.exportEnd")), end, button);
}

// ---- parking enforcement (issue #16): plate, first violation or repeat, steps, the owner ----
const PARKING = ["illegal_parking", "non_motor_parking"];
const STEPS = ["move_on", "card", "phone", "notice", "waiver", "tow"];
const KINDS = ["car", "two_wheel", "three_wheel", "four_wheel_e"];

async function takeStep(c, step, noteInput) {
  const body = { step, note: noteInput.value.trim() || undefined };
  if (step === "tow") {
    const answer = await modal(`${t("step.tow")} · #${c.id}`, h("div.reasons", h("p.muted", t("en.towKind")),
      KINDS.map((kind, i) => h("label.reason", h("input", { type: "radio", name: "vehicle_kind", value: kind, checked: i === 0 }), t(`kind.${kind}`)))),
    { okText: t("step.tow"), danger: true });
    if (!answer) return;
    body.vehicle_kind = answer.vehicle_kind || "car";
  }
  const buttons = [...document.querySelectorAll("#enf-actions button")].map((b) => [b, b.disabled]);
  for (const [b] of buttons) b.disabled = true;  // one step at a time: no double posts
  try {
    await API.recordEnforcement(c.id, body);
    toast(`${t("step." + step)} · ${t("en.recorded")}`, "ok");
    await renderCase(c.id);
  } catch (err) {
    toast(errorText(err), "error");
    for (const [b, was] of buttons) b.disabled = was;  // the note stays as typed
  }
}

async function revealOwner(c) {
  try {
    revealed = { caseId: c.id, owner: await API.lookupOwner(c.id) };
    toast(t("ow.audited"), "ok");
  } catch (err) { toast(err.status === 404 ? t("ow.notFound") : errorText(err), "error"); }
  await renderCase(c.id);
}

function ownerBlock(c, e) {
  const full = revealed && revealed.caseId === c.id ? revealed.owner : null;
  const owner = full || e.owner;
  if (!e.plate) return null;
  if (!owner) return h("div.owner#owner", h("b", `${t("ow.title")}: `), h("span#owner-phone", t("ow.none")));
  return h("div.owner#owner", { dataset: { revealed: full ? "1" : "" } },
    h("b", `${t("ow.title")}: `), owner.name ? h("span#owner-name", owner.name) : null,
    h("span", ` ${t("ow.phone")}: `), h("span#owner-phone", { class: full ? "full" : "" }, owner.phone),
    full ? h("span.muted#owner-audited", ` · ${t("ow.audited")}`)
      : can("cases") ? h("button.ghost#btn-owner-lookup", { type: "button", onclick: () => revealOwner(c) }, t("ow.lookup")) : null);
}

/** The case's plate as its events read it (so with its colour): the most confident reading of that text. */
function plateRead(c, text) {
  const reads = (c.events || []).map((ev) => ev.plate).filter((p) => p && p.text === text);
  return reads.sort((a, b) => (b.confidence ?? 0) - (a.confidence ?? 0))[0] || text;
}

function enforcementPanel(c, e) {
  if (!e) return null;
  const open = !["closed", "rejected"].includes(c.status);
  const badges = [
    e.plate && e.first_violation ? h("span.enf-badge.first#badge-first", t("en.first")) : null,
    e.prior_violations > 0 ? h("span.enf-badge.repeat#badge-repeat", `${t("en.repeat")} · ${t("en.prior")} ${e.prior_violations} ${t("en.times")}`.trim()) : null,
    e.strict_section ? h("span.enf-badge.strict#badge-strict", t("en.strict")) : null,
    e.waived ? h("span.enf-badge.waived#badge-waived", t("en.waived")) : null,
    e.exempt ? h("span.enf-badge.exempt#badge-exempt", { title: t(`en.exempt.${e.exempt}`) }, t("en.exempt")) : null,
  ];
  const note = h("input#enf-note", { type: "text", autocomplete: "off", maxlength: 2000, placeholder: t("en.note"), "aria-label": t("en.note") });
  const button = (step) => h("button", { type: "button", id: `enf-${step}`, dataset: { step },
    class: [step === e.next_step && "suggested", step === "tow" && "danger"].filter(Boolean).join(" ") || undefined,
    disabled: step === "waiver" && !e.waiver_eligible, title: step === "waiver" && !e.waiver_eligible ? t("en.waiverNo") : step === e.next_step ? t("en.suggested") : undefined,
    onclick: () => takeStep(c, step, note) }, t(`step.${step}`));
  const actions = can("cases") && open ? h("div.enf-actions#enf-actions", note, h("div.enf-buttons", STEPS.map(button)),
    e.next_step ? h("div.muted#enf-next", `${t("en.suggested")}: ${t(`step.${e.next_step}`)}`) : null)
    : can("cases") ? h("p.muted", t("en.closed")) : null;
  const steps = e.steps.length ? h("ol.enf-steps#enf-steps", e.steps.map((s) => h("li", { dataset: { step: s.step } },
    h("span.when", fmtDateTime(s.at)), h("b", actorName(s.actor)), h("span.enf-step", t(`step.${s.step}`)),
    s.vehicle_kind ? h("span.muted", t(`kind.${s.vehicle_kind}`)) : null, s.note ? h("span", `“${s.note}”`) : null)))
    : h("p.muted#enf-steps-empty", t("en.noSteps"));
  const left = e.left_at ? `${fmtDateTime(e.left_at)}${e.left_within_grace ? ` · ${t("en.inGrace")}` : ""}` : t("en.stillThere");
  return h("div.panel.enforcement#enforcement", { dataset: { next: e.next_step || "" } },
    h("h3", t("en.title")),
    h("div.enf-head", plateChip(plateRead(c, e.plate), { link: true, big: true }) || h("span.muted#no-plate", t("pl.none")), badges),
    h("table.kv", h("tr", h("td", t("en.noticeAt")), h("td#enf-notice", e.notice_at ? fmtDateTime(e.notice_at) : t("en.notYet"))),
      h("tr", h("td", t("en.leftAt")), h("td#enf-left", left))),
    ownerBlock(c, e),
    h("h4", t("en.steps")), steps, actions);
}

/** Verification (核查) beside the camera's current frame: the trigger photo of the latest event, the
 * camera's latest analysed frame (refreshable), and the automatic camera check's last word. */
function verifyPanel(c, events, actions) {
  if (!["dispatched", "handled"].includes(c.status) || !c.camera_id) return null;
  const latest = events[events.length - 1];
  const trigger = latest && ((latest.evidence || []).find((x) => x.kind === "trigger")?.url || latest.snapshot_url);
  const before = h("img#verify-before", { alt: t("ev.trigger") });
  if (trigger) API.loadImage(before, trigger);
  const now = h("img#verify-now", { alt: t("vf.now") });
  const load = () => {
    const health = store.cameraById.get(c.camera_id)?.health;  // a camera that has shown no frame has none to fetch
    if (!health || !(health.last_frame_at || health.frames_analysed)) { now.alt = t("vf.noFrame"); return; }
    API.loadImage(now, `/api/cameras/${encodeURIComponent(c.camera_id)}/latest.jpg?width=640&t=${Date.now()}`, { cache: false }).catch(() => { now.alt = t("vf.noFrame"); });
  };
  load();
  const auto = [...actions].reverse().find((a) => a.actor === "system:camera" && a.note);  // the camera check (ledger.CAMERA_VERIFIER)
  return h("div.panel.verify#verify-panel",
    h("h3", t("vf.title")),
    h("div.photos",
      h("figure", before, h("figcaption", `${t("ev.trigger")} · ${latest ? fmtDateTime(latest.occurred_at) : "—"}`)),
      h("figure", now, h("figcaption", t("vf.now"), " ", h("button.ghost#verify-refresh", { type: "button", onclick: load }, t("vf.refresh"))))),
    h("p.muted#verify-auto", auto ? `${t("vf.auto")}: ${auto.note} · ${fmtDateTime(auto.at)}` : t("vf.noAuto")));
}

async function renderCase(id) {
  const c = await API.getCase(id);
  const enforcement = PARKING.includes(c.type) ? await API.getEnforcement(id).catch(() => null) : null;
  if (args?.arg !== String(id) || !root) return;
  const events = c.events || [];
  const actions = c.actions || c.audit || c.audit_trail || c.history || [];
  const buttons = can("cases") ? (c.allowed_transitions || []).map((to) =>
    h("button", { class: to === "rejected" ? "danger" : to === "closed" || to === "verified" ? "primary" : "accent", id: `btn-${to}`,
      dataset: { to }, onclick: () => runTransition(c, to) }, transitionLabel(c, to))) : [];
  const order = ["entry", "middle", "trigger"];
  const photos = events.flatMap((e) => (e.evidence && e.evidence.length ? [...e.evidence].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind)) : [{ kind: "trigger", url: e.snapshot_url }]).map((x) => ({ ...x, event: e })));
  const photoEls = photos.map((p) => { const img = h("img", { alt: p.kind }); API.loadImage(img, p.url); return h("figure", img, h("figcaption", `#${p.event.id} · ${t(`ev.${p.kind}`)} · ${fmtDateTime(p.event.occurred_at)}`, p.kind === "trigger" && can("review") ? [" ", annotateButton(p.event, `btn-annotate-${p.event.id}`)] : null)); });
  const facts = [
    [t("c.location"), place(c) || "—"], [t("f.camera"), c.camera_id ? h("a", { href: `#/camera/${encodeURIComponent(c.camera_id)}` }, store.cameraById.get(c.camera_id)?.name || c.camera_id) : "—"],
    [t("c.team"), c.team || "—"], [t("c.deadline"), c.deadline ? h("span", { class: c.overdue ? "error" : "" }, fmtDateTime(c.deadline)) : "—"],
    [t("c.created"), fmtDateTime(c.created_at)], [t("c.events"), String(c.event_count ?? events.length)],
    [t("c.priority"), c.priority ? t(`prio.${c.priority}`) : "—"], [t("c.source"), c.source ? t(`src.${c.source}`) : "—"],
    ...(c.disposal_note ? [[t("c.disposal"), c.disposal_note]] : []), ...(c.reject_reason ? [[t("c.rejectReason"), c.reject_reason]] : []),
  ];
  clear(root).append(
    h("p", h("a", { href: "#/cases" }, `← ${t("c.back")}`)),
    h("div.case-page#case-page", { dataset: { id: c.id, status: c.status } },
      h("div",
        h("div.panel",
          h("div.case-head", h("h2", `${t("d.case")} #${c.id} · ${typeName(c.type)}`), statusChip(c), c.overdue ? h("span.overdue-tag", t("c.overdue")) : null),
          stepper(c),
          h("p.muted", c.description || ""),
          buttons.length ? h("div.case-actions", buttons) : null),
        verifyPanel(c, events, actions),
        enforcementPanel(c, enforcement),
        h("div.panel", h("h3", `${t("c.photos")} (${photos.length})`), h("div.photos", photoEls)),
        clipsPanel(events), exportsPanel(c),
        h("div.panel", h("h3", `${t("c.events")} (${events.length})`),
          h("table.kv", events.map((e) => h("tr", h("td", `#${e.id} ${typeName(e.type)} · ${objectName(e.label)} `, plateChip(e.plate)), h("td", `${fmtDateTime(e.occurred_at)} · ${t(`review.${e.review_status}`)}`)))))),
      h("div",
        h("div.panel", h("table.kv", facts.map(([k, v]) => h("tr", h("td", k), h("td", v))))),
        h("div.panel", h("h3", t("c.audit")), h("ol.audit#audit", actions.map(auditEntry))))));
}

export async function render(main, route) {
  args = route;
  root = h("section.cases");
  main.append(root);
  if (route.name === "case" && route.arg) await renderCase(route.arg); else await renderBoard();
  unsubscribe = onLive((m) => {
    if (m.kind !== "case" && !(m.kind === "change" && m.data.path.startsWith("/api/cases"))) return;
    const id = m.data?.case?.id;
    if (route.name === "case") { if (!id || String(id) === route.arg) renderCase(route.arg).catch(() => {}); } else renderBoard().catch(() => {});
  });
}

export function leave() { if (unsubscribe) unsubscribe(); root = null; args = null; revealed = null; }
