// Vehicles by plate (parking enforcement, issue #16): the plate chip the other pages show, the
// repeat offenders of a window, one vehicle's events and cases, and the parking campaign report.
import * as API from "./api.js";
import { dayKey, fmtDateTime, t } from "./i18n.js";
import { store } from "./state.js";
import { fromZoneInput } from "./timeline.js";
import { clear, errorText, h, toast, typeName } from "./util.js";

const WINDOWS = [30, 90, 365];
const REPORT_ROWS = ["cases", "plates_read", "moved_on", "cards", "phone_notices", "notices", "waivers",
  "towed_car", "towed_two_wheel", "towed_three_wheel", "towed_four_wheel_e", "towed", "repeat_offenders", "owner_lookups"];
const view = { within: 365 };
let root = null, args = null;

/** A plate as a chip in the plate's colour ({text, color, confidence} or a bare text); null when none. */
export function plateChip(plate, { link = false, big = false } = {}) {
  if (!plate) return null;
  const text = typeof plate === "string" ? plate : plate.text;
  if (!text) return null;
  const color = (typeof plate === "object" && plate.color) || "unknown";
  const colorName = color === "unknown" ? "" : t(`pl.${color}`);
  const title = [colorName, plate.confidence != null ? `${t("pl.confidence")} ${Math.round(plate.confidence * 100)}%` : ""].filter(Boolean).join(" · ");
  const attrs = { class: [`plate-${color}`, big && "big"].filter(Boolean).join(" "), title, dataset: { plate: text } };
  return link ? h("a.plate", { ...attrs, href: `#/vehicle/${encodeURIComponent(text)}` }, text) : h("span.plate", attrs, text);
}

function districts() { return [...new Set(store.cameras.map((c) => c.district).filter(Boolean))].sort(); }

// ---- repeat offenders ----
async function renderList() {
  const page = await API.listVehicles({ within_days: view.within });
  if (!root || args?.name !== "vehicles") return;
  const list = API.items(page);
  const windowSelect = h("select#vehicle-window", { "aria-label": t("v.window"), onchange: (e) => { view.within = Number(e.target.value); renderList().catch((err) => toast(errorText(err), "error")); } },
    WINDOWS.map((d) => h("option", { value: d, selected: d === view.within }, `${d} ${t("v.days")}`)));
  const table = list.length ? h("table.grid#vehicle-list",
    h("thead", h("tr", [t("pl.plate"), t("v.recent"), t("v.total"), t("v.first"), t("v.last")].map((x) => h("th", x)))),
    h("tbody", list.map((v) => h("tr", { dataset: { plate: v.plate } },
      h("td", plateChip({ text: v.plate, color: v.color }, { link: true })), h("td.num", String(v.recent_count)), h("td.num", String(v.event_count)),
      h("td", fmtDateTime(v.first_seen_at)), h("td", fmtDateTime(v.last_seen_at))))))
    : h("p.muted#vehicle-none", t("v.none"));
  const panel = root.querySelector("#vehicles-panel");
  clear(panel).append(h("div.filters", h("h3", t("v.title")), h("label.filter", h("span", t("v.window")), windowSelect)), table);
}

// ---- the campaign report (专项整治报表) ----
function reportQuery(form) {
  const start = fromZoneInput(form.start.value), end = fromZoneInput(form.end.value);
  if (!(end >= start)) return null;
  return { start: new Date(start).toISOString(), end: new Date(end + 86400e3).toISOString(), district: form.district.value.trim() };
}

function reportTable(report) {
  const counts = report.counts || {}, response = report.response_min || {};
  const minutes = (v) => (v == null ? "—" : String(v));
  return h("table.kv.report#campaign-table",
    h("tbody",
      REPORT_ROWS.map((key) => h("tr", { dataset: { key } }, h("td", t(`r.${key}`)), h("td.num", String(counts[key] ?? 0)))),
      h("tr", { dataset: { key: "response_cases" } }, h("td", t("r.responseCases")), h("td.num", String(response.cases ?? 0))),
      h("tr", { dataset: { key: "response_median" } }, h("td", t("r.median")), h("td.num", minutes(response.median))),
      h("tr", { dataset: { key: "response_max" } }, h("td", t("r.max")), h("td.num", minutes(response.max)))));
}

function reportPanel() {
  const today = dayKey(new Date()), weekAgo = dayKey(new Date(Date.now() - 6 * 86400e3));
  const out = h("div#campaign-result");
  const form = h("form.report-form#campaign-form", { onsubmit: async (e) => {
    e.preventDefault();
    const query = reportQuery(form);
    if (!query) { toast(t("r.badRange"), "error"); return; }
    try {
      clear(out).append(reportTable(await API.getCampaignReport(query)));
    } catch (err) { toast(errorText(err), "error"); }
  } },
  h("label", { for: "campaign-start" }, t("r.start")), h("input#campaign-start", { name: "start", type: "date", value: weekAgo, required: true }),
  h("label", { for: "campaign-end" }, t("r.end")), h("input#campaign-end", { name: "end", type: "date", value: today, required: true }),
  h("label", { for: "campaign-district" }, t("f.district")),
  h("input#campaign-district", { name: "district", list: "campaign-districts", autocomplete: "off", placeholder: t("f.all") }),
  h("datalist#campaign-districts", districts().map((d) => h("option", { value: d }))),
  h("div.report-buttons", h("button.primary#btn-campaign", { type: "submit" }, t("r.run")),
  ["csv", "xlsx"].map((format) => h(`button#btn-campaign-${format}`, { type: "button", onclick: () => {
    const query = reportQuery(form);
    if (!query) { toast(t("r.badRange"), "error"); return; }
    const name = `campaign-${form.start.value}-${form.end.value}${query.district ? `-${query.district}` : ""}.${format}`;
    API.download(API.campaignReportUrl(query, format), name).catch((err) => toast(errorText(err), "error"));
  } }, t(`r.${format}`)))));
  return { panel: h("div.panel#campaign-panel", h("h3", t("r.title")), form, out), form };
}

// ---- one vehicle ----
async function renderVehicle(plate) {
  let v;
  try { v = await API.getVehicle(plate); } catch (err) {
    if (!root) return;
    clear(root).append(h("p", h("a", { href: "#/vehicles" }, `← ${t("v.back")}`)), h("p.error#vehicle-missing", err.status === 404 ? `${t("v.unknown")}: ${plate}` : errorText(err)));
    return;
  }
  if (!root || args?.arg !== plate) return;
  const camera = (id) => store.cameraById.get(id)?.name || id || "—";
  const facts = [[t("v.color"), v.color ? t(`pl.${v.color}`) : "—"], [t("v.recent"), String(v.recent_count)], [t("v.total"), String(v.event_count)],
    [t("v.first"), fmtDateTime(v.first_seen_at)], [t("v.last"), fmtDateTime(v.last_seen_at)]];
  clear(root).append(
    h("p", h("a", { href: "#/vehicles" }, `← ${t("v.back")}`)),
    h("div.vehicle-page#vehicle-page", { dataset: { plate: v.plate } },
      h("div.panel", h("div.case-head", plateChip({ text: v.plate, color: v.color }, { big: true }),
        v.repeat ? h("span.enf-badge.repeat", t("en.repeat")) : null),
      h("table.kv", facts.map(([k, x]) => h("tr", h("td", k), h("td", x))))),
      h("div.panel", h("h3", `${t("v.events")} (${v.events.length})`), h("table.grid#vehicle-events",
        h("tbody", v.events.map((e) => h("tr", { dataset: { id: e.id } },
          h("td", `#${e.id} ${typeName(e.type)}`), h("td", camera(e.camera_id)), h("td", fmtDateTime(e.occurred_at)),
          h("td", t(`review.${e.review_status}`)),
          h("td", e.case_id ? h("a", { href: `#/case/${e.case_id}` }, `${t("d.case")} #${e.case_id}`) : "—")))))),
      h("div.panel", h("h3", `${t("v.cases")} (${v.cases.length})`), h("table.grid#vehicle-cases",
        h("tbody", v.cases.map((c) => h("tr", { dataset: { id: c.id } },
          h("td", h("a", { href: `#/case/${c.id}` }, `#${c.id}`)), h("td", typeName(c.type)),
          h("td", t(`cs.${c.status}`)), h("td", fmtDateTime(c.created_at)))))))));
}

export async function render(main, route) {
  args = route;
  root = h("section.vehicles");
  main.append(root);
  if (route.name === "vehicle" && route.arg) { await renderVehicle(route.arg); return; }
  const { panel, form } = reportPanel();
  root.append(h("div.vehicles-grid", h("div.panel#vehicles-panel", h("p.muted", t("loading"))), panel));
  await renderList();
  form.requestSubmit();  // the last 7 days' counts at once
}

export function leave() { root = null; args = null; }
