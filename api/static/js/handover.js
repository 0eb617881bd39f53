// The shift handover page (交接班, #/handover): what the next shift takes over — alerts awaiting
// review, open and overdue cases by status and by team, cases due soon, cameras offline, the mode —
// from GET /api/handover, the open cases and the camera list; printable, and copied as plain text.
import * as API from "./api.js";
import { fmtDateTime, fmtShort, t } from "./i18n.js";
import { store } from "./state.js";
import { clear, errorText, h, stateName, toast, typeName } from "./util.js";

const SHIFTS = [8, 12, 24];
const OPEN = ["new", "registered", "dispatched", "handled", "verified"];
const WORKING = new Set(["running", "online", "starting"]);
const view = { hours: 12 };
let root = null;

function modeName(mode) { const s = t(`mode.${mode}`); return s === mode ? mode : s; }
function place(item) { return [item.district, item.street].filter(Boolean).join(" · ") || "—"; }

/** Cameras switched on whose stream is down (health known and not running), and those with no
 * health in this process (the pipeline runs elsewhere); a camera switched off is neither. */
export function cameraStates(cameras) {
  const offline = [], unknown = [];
  for (const camera of cameras) {
    const state = camera.health?.state;
    if (camera.enabled === false) continue;
    if (!state) unknown.push(camera);
    else if (!WORKING.has(state)) offline.push(camera);
  }
  return { offline, unknown };
}

/** Open cases by team ({team, open, overdue}), the most overdue first; undispatched under "". */
export function byTeam(cases) {
  const teams = new Map();
  for (const c of cases) {
    const key = c.team || "";
    const row = teams.get(key) || { team: key, open: 0, overdue: 0 };
    row.open += 1;
    if (c.overdue) row.overdue += 1;
    teams.set(key, row);
  }
  return [...teams.values()].sort((a, b) => b.overdue - a.overdue || b.open - a.open || a.team.localeCompare(b.team));
}

async function load() {
  const since = new Date(Date.now() - view.hours * 3600e3).toISOString();
  const open = `/api/cases?${OPEN.map((s) => `status=${s}`).join("&")}`;
  const [summary, cases] = await Promise.all([API.api("/api/handover", { query: { since } }), API.api(open, { query: { limit: 500 } })]);
  const list = API.items(cases);
  return { summary, cases: list, partial: typeof cases?.total === "number" && cases.total > list.length };
}

function card(id, label, value, warn = false) {
  return h("div.ho-card", { id, class: warn && value ? "warn" : "" }, h("span.ho-value", String(value)), h("span.ho-label", label));
}

function table(id, heads, rows) {
  if (!rows.length) return h("p.muted", { id }, t("ho.none"));
  return h("div.table-wrap", h("table.grid", { id },
    h("thead", h("tr", heads.map((x) => h("th", x)))),
    h("tbody", rows.map((cells) => h("tr", cells.map((c) => (c instanceof Node ? h("td", c) : h("td", { class: typeof c === "number" ? "num" : "" }, String(c)))))))));
}

function caseRows(list) {
  return list.map((c) => [h("a", { href: `#/case/${c.id}` }, `#${c.id}`), typeName(c.type), place(c), c.team || t("ho.noTeam"), fmtShort(c.deadline)]);
}

/** The summary as plain text, for the clipboard (a chat message, the duty log). */
export function summaryText(summary, teams, cameras) {
  const openCount = Object.values(summary.open_cases).reduce((a, b) => a + b, 0);
  const lines = [
    `${t("ho.title")} ${fmtDateTime(summary.since)} — ${fmtDateTime(summary.now)}`,
    `${t("ho.mode")}：${modeName(store.mode?.mode || "normal")}`,
    `${t("ho.pending")}：${summary.alerts.pending}（${t("ho.arrived")} ${summary.alerts.arrived}）`,
    `${t("ho.open")}：${openCount}，${t("ho.overdue")}：${summary.overdue.count}`,
    ...teams.map((r) => `  ${r.team || t("ho.noTeam")}：${t("ho.open")} ${r.open}，${t("ho.overdue")} ${r.overdue}`),
    ...summary.overdue.cases.map((c) => `  #${c.id} ${typeName(c.type)} ${place(c)} ${c.team || t("ho.noTeam")} ${t("ho.deadline")} ${fmtShort(c.deadline)}`),
    `${t("ho.offline")}：${cameras.offline.length}${cameras.offline.length ? `（${cameras.offline.map((c) => c.name || c.id).join("、")}）` : ""}`,
    `${t("ho.shiftWork")}：${t("ho.opened")} ${summary.shift.opened}，${t("ho.handled")} ${summary.shift.handled}，${t("ho.closed")} ${summary.shift.closed}`,
  ];
  return lines.join("\n");
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {  // no clipboard permission (an embedded browser): the old way, through a selected text area
    const area = h("textarea", { style: "position:fixed;opacity:0" }, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  toast(t("ho.copied"), "ok");
}

function draw({ summary, cases, partial }) {
  const teams = byTeam(cases);
  const cameras = cameraStates(store.cameras);
  const openCount = Object.values(summary.open_cases).reduce((a, b) => a + b, 0);
  const mode = store.mode?.mode || "normal";
  const shift = h("select#handover-shift", { "aria-label": t("ho.shift"), onchange: (e) => { view.hours = Number(e.target.value); refresh(); } },
    SHIFTS.map((n) => h("option", { value: n, selected: n === view.hours }, t("ho.hours").replace("{n}", String(n)))));
  const head = h("div.filters.ho-head",
    h("h2", t("ho.title")),
    h("label.filter.no-print", h("span", t("ho.shift")), shift),
    h("span.muted#handover-range", `${t("ho.since")} ${fmtDateTime(summary.since)} · ${t("ho.now")} ${fmtDateTime(summary.now)}`),
    h("span.spacer"),
    h("button.no-print#handover-copy", { type: "button", onclick: () => copy(summaryText(summary, teams, cameras)) }, t("ho.copy")),
    h("button.primary.no-print#handover-print", { type: "button", onclick: () => window.print() }, t("ho.print")));
  const cards = h("div.ho-cards",
    card("ho-pending", t("ho.pending"), summary.alerts.pending, true),
    card("ho-arrived", t("ho.arrived"), summary.alerts.arrived),
    card("ho-open", t("ho.open"), openCount),
    card("ho-overdue", t("ho.overdue"), summary.overdue.count, true),
    card("ho-offline", t("ho.offline"), cameras.offline.length, true),
    h("div.ho-card#ho-mode", h("span.ho-value", h("span.mode-chip", { class: mode }, modeName(mode))), h("span.ho-label", t("ho.mode"))));
  const section = (title, body) => h("section.ho-section", h("h3", title), body);
  const statuses = OPEN.map((s) => [t(`cs.${s}`), summary.open_cases[s] ?? 0]);
  clear(root).append(head, cards, h("div.ho-grid",
    section(t("ho.byStatus"), table("handover-status", [t("ho.status"), t("ho.count")], statuses)),
    section(t("ho.byTeam"), [table("handover-teams", [t("ho.team"), t("ho.open"), t("ho.overdue")], teams.map((r) => [r.team || t("ho.noTeam"), r.open, r.overdue])),
      partial ? h("p.muted#handover-partial", t("ho.partial").replace("{n}", String(cases.length))) : null]),
    section(`${t("ho.overdueList")}（${summary.overdue.count}）`, table("handover-overdue", [t("ho.case"), t("ho.type"), t("ho.place"), t("ho.team"), t("ho.deadline")], caseRows(summary.overdue.cases))),
    section(t("ho.dueSoon").replace("{n}", String(summary.due_soon.within_h)), table("handover-due", [t("ho.case"), t("ho.type"), t("ho.place"), t("ho.team"), t("ho.deadline")], caseRows(summary.due_soon.cases))),
    section(t("ho.offlineList"), table("handover-cameras", [t("ho.camera"), t("ho.place"), t("ho.status")],
      [...cameras.offline.map((c) => [c.name || c.id, place(c), stateName(c.health.state)]), ...cameras.unknown.map((c) => [c.name || c.id, place(c), t("ho.unknown")])])),
    section(t("ho.shiftWork"), table("handover-shift-work", [t("ho.status"), t("ho.count")], [
      [t("ho.opened"), summary.shift.opened], [t("ho.handled"), summary.shift.handled], [t("ho.closed"), summary.shift.closed],
      [t("ho.switches"), summary.mode_switches.length]]))));
}

async function refresh() {
  try {
    const data = await load();
    if (root) draw(data);
  } catch (err) {
    if (root) clear(root).append(h("p.error", errorText(err)));
  }
}

export async function render(main) {
  root = h("section.handover-page");
  main.append(root);
  root.append(h("p.muted", t("loading")));
  await refresh();
}

export function leave() { root = null; }
