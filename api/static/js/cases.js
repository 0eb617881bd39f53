// The case board (by status, overdue marked) and the case page (events, photos, audit trail, workflow).
import * as API from "./api.js";
import { can, onLive, store } from "./app.js";
import { fmtDateTime, t } from "./i18n.js";
import { clear, errorText, h, modal, toast, typeName } from "./util.js";

const COLUMNS = ["new", "registered", "dispatched", "handled", "verified", "closed"];
let root = null, unsubscribe = null, args = null;

function statusName(status, fallback) { const s = t(`cs.${status}`); return s === status ? (fallback || status) : s; }
function statusChip(c) { return h("span.status-chip", { class: c.status, id: "case-status", dataset: { status: c.status } }, statusName(c.status, c.status_label)); }
function place(c) {
  const camera = store.cameraById.get(c.camera_id);
  return [c.district || camera?.district, c.street || camera?.street, c.location].filter(Boolean).join(" · ");
}

// ---- board ----
async function renderBoard() {
  const list = API.items(await API.listCases());
  const byStatus = Object.fromEntries(COLUMNS.map((s) => [s, []]));
  for (const c of list) (byStatus[c.status] || (byStatus[c.status] = [])).push(c);
  const card = (c) => h("a.case-card", { href: `#/case/${c.id}`, class: c.overdue ? "overdue" : "", dataset: { id: c.id } },
    h("div.row-top", h("b", `#${c.id} ${typeName(c.type)}`), c.overdue ? h("span.overdue-tag", t("c.overdue")) : null),
    h("div.meta", place(c) || c.camera_id || "—"),
    c.team ? h("div.meta", `${t("c.team")}: ${c.team}`) : null,
    c.deadline ? h("div.meta", `${t("c.deadline")}: ${fmtDateTime(c.deadline)}`) : null,
    h("div.meta", `${t("c.events")}: ${c.event_count ?? 0} · ${fmtDateTime(c.created_at)}`));
  const columns = COLUMNS.map((status) => h("div.column", { dataset: { status } },
    h("h3", h("span", statusName(status)), h("span", String(byStatus[status].length))),
    byStatus[status].sort((a, b) => (b.overdue - a.overdue) || (b.id - a.id)).slice(0, 60).map(card)));
  const rejected = (byStatus.rejected || []).length;
  clear(root).append(h("div.filters", h("b", t("nav.cases")), h("span.muted", `${list.length} · ${t("c.overdue")}: ${list.filter((c) => c.overdue).length}${rejected ? ` · ${statusName("rejected")}: ${rejected}` : ""}`)),
    list.length ? h("div.board#board", columns) : h("p.muted", t("c.none")));
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
    const teams = t("c.teams").split(",");
    const answer = await modal(`${transitionLabel(c, to)} · #${c.id}`, h("div",
      h("label", { for: "f-team" }, t("c.team")),
      h("select#f-team", { name: "team" }, teams.map((x) => h("option", { value: x, selected: x === c.team }, x))),
      h("label", { for: "f-hours" }, `${t("c.hours")} (${t("c.h")})`),
      h("select#f-hours", { name: "hours" }, [1, 2, 4, 8, 24, 72].map((n) => h("option", { value: n, selected: n === 2 }, `${n} ${t("c.h")}`))),
      h("label", { for: "f-note" }, t("c.note")), h("input#f-note", { name: "note", autocomplete: "off" })), { okText: transitionLabel(c, to) });
    if (!answer) return;
    body = { team: answer.team, deadline: new Date(Date.now() + Number(answer.hours) * 3600e3).toISOString(), note: answer.note || undefined };
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
    h("div.when", fmtDateTime(a.at), " · ", h("b", a.actor || "—")),
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

async function renderCase(id) {
  const c = await API.getCase(id);
  if (args?.arg !== String(id) || !root) return;
  const events = c.events || [];
  const actions = c.actions || c.audit || c.audit_trail || c.history || [];
  const buttons = can("cases") ? (c.allowed_transitions || []).map((to) =>
    h("button", { class: to === "rejected" ? "danger" : to === "closed" || to === "verified" ? "primary" : "accent", id: `btn-${to}`,
      dataset: { to }, onclick: () => runTransition(c, to) }, transitionLabel(c, to))) : [];
  const order = ["entry", "middle", "trigger"];
  const photos = events.flatMap((e) => (e.evidence && e.evidence.length ? [...e.evidence].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind)) : [{ kind: "trigger", url: e.snapshot_url }]).map((x) => ({ ...x, event: e })));
  const photoEls = photos.map((p) => { const img = h("img", { alt: p.kind }); API.loadImage(img, p.url); return h("figure", img, h("figcaption", `#${p.event.id} · ${t(`ev.${p.kind}`)} · ${fmtDateTime(p.event.occurred_at)}`)); });
  const facts = [
    [t("c.location"), place(c) || "—"], [t("f.camera"), c.camera_id ? h("a", { href: `#/camera/${encodeURIComponent(c.camera_id)}` }, store.cameraById.get(c.camera_id)?.name || c.camera_id) : "—"],
    [t("c.team"), c.team || "—"], [t("c.deadline"), c.deadline ? h("span", { class: c.overdue ? "error" : "" }, fmtDateTime(c.deadline)) : "—"],
    [t("c.created"), fmtDateTime(c.created_at)], [t("c.events"), String(c.event_count ?? events.length)],
    [t("c.priority"), c.priority || "—"], [t("c.source"), c.source || "—"],
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
        h("div.panel", h("h3", `${t("c.photos")} (${photos.length})`), h("div.photos", photoEls)),
        h("div.panel", h("h3", `${t("c.events")} (${events.length})`),
          h("table.kv", events.map((e) => h("tr", h("td", `#${e.id} ${typeName(e.type)} · ${e.label || ""}`), h("td", `${fmtDateTime(e.occurred_at)} · ${t(`review.${e.review_status}`)}`)))))),
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

export function leave() { if (unsubscribe) unsubscribe(); root = null; args = null; }
