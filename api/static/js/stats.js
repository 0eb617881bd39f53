// Statistics: cases per day by type and by district, on-time closure rate, camera uptime (Chart.js, vendored).
import * as API from "./api.js";
import { dayKey, fmtDateTime, t } from "./i18n.js";
import { store } from "./state.js";
import { fromZoneInput, toZoneInput } from "./timeline.js";
import { clear, errorText, h, toast, typeName } from "./util.js";

const COLORS = ["#1f6feb", "#d97706", "#1a7f37", "#8250df", "#cf222e", "#0891b2", "#9a6700", "#57606a"];
const DAYS = 14;
let charts = [];

function lastDays(n) {
  const out = [];
  for (let i = n - 1; i >= 0; i -= 1) out.push(dayKey(new Date(Date.now() - i * 86400e3)));
  return out;
}

/** Cases per day split by `keyOf` (a DayCount row -> series name), over the last DAYS days. */
function perDay(rows, keyOf, nameOf = (k) => k) {
  const days = lastDays(DAYS), index = new Map(days.map((d, i) => [d, i])), series = new Map();
  for (const row of rows) {
    const i = index.get(row.day);
    if (i === undefined) continue;
    const key = keyOf(row) || "—";
    if (!series.has(key)) series.set(key, new Array(days.length).fill(0));
    series.get(key)[i] += row.count;
  }
  return { labels: days.map((d) => d.slice(5)), datasets: [...series.entries()].map(([key, data], i) => ({ label: nameOf(key), data, backgroundColor: COLORS[i % COLORS.length], maxBarThickness: 28 })) };
}

function chart(canvas, config) {
  const ChartJS = window.Chart;
  if (!ChartJS) return;
  charts.push(new ChartJS(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }, ...config.options } }));
}

export async function render(main) {
  const root = h("section.stats");
  main.append(root);
  const since = new Date(Date.now() - DAYS * 86400e3).toISOString();
  const [stats, uptime] = await Promise.all([API.getStatistics({ since }), API.getUptime().catch(() => ({ cameras: {} }))]);
  const onTime = stats.on_time || { closed: 0, on_time: 0, rate: null };
  const pct = onTime.rate == null ? "—" : `${Math.round(onTime.rate * 100)}%`;
  const canvases = { type: h("canvas#chart-type"), district: h("canvas#chart-district"), ontime: h("canvas#chart-ontime"), uptime: h("canvas#chart-uptime") };
  clear(root).append(
    h("div.kpis",
      h("div.kpi", h("b#kpi-total", String(stats.total)), h("span", `${t("s.cases")} · ${t("s.days")}`)),
      h("div.kpi", h("b", String(onTime.closed)), h("span", t("s.closed"))),
      h("div.kpi", h("b#kpi-ontime", pct), h("span", t("s.rate"))),
      h("div.kpi", h("b", { class: stats.overdue ? "error" : "" }, String(stats.overdue)), h("span", t("s.overdueNow")))),
    h("div.stats-grid",
      h("div.panel", h("h3", `${t("s.byType")} · ${t("s.days")}`), h("div.chart-box", canvases.type)),
      h("div.panel", h("h3", `${t("s.byDistrict")} · ${t("s.days")}`), h("div.chart-box", canvases.district)),
      h("div.panel", h("h3", t("s.onTime")), h("div.chart-box", canvases.ontime)),
      h("div.panel", h("h3", t("s.uptime")), h("div.chart-box", canvases.uptime))),
    reportPanel());
  const stacked = { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } };
  chart(canvases.type, { type: "bar", data: perDay(stats.by_day || [], (r) => r.type, typeName), options: stacked });
  chart(canvases.district, { type: "bar", data: perDay(stats.by_day || [], (r) => r.district), options: stacked });
  chart(canvases.ontime, { type: "doughnut", data: { labels: [t("s.onTimeClosed"), t("s.late"), t("s.openOverdue")],
    datasets: [{ data: [onTime.on_time, onTime.closed - onTime.on_time, stats.overdue], backgroundColor: ["#1a7f37", "#d97706", "#cf222e"] }] }, options: { cutout: "60%" } });
  const up = Object.entries(uptime.cameras || {}).filter(([, v]) => v.uptime != null);
  chart(canvases.uptime, { type: "bar", data: { labels: up.map(([id]) => store.cameraById.get(id)?.name || id),
    datasets: [{ label: t("s.uptime"), data: up.map(([, v]) => Math.round(v.uptime * 1000) / 10), maxBarThickness: 26, backgroundColor: up.map(([, v]) => (v.uptime >= 0.95 ? "#1a7f37" : v.uptime >= 0.8 ? "#d97706" : "#cf222e")) }] },
  options: { indexAxis: "y", scales: { x: { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } } }, plugins: { legend: { display: false } } } });
}

// ---- the report of a date range: rankings, handling times, on-time and false-alarm rates ----
const RANKS = ["by_district", "by_street", "by_team", "by_camera"];
const pctText = (v) => (v == null ? "—" : `${Math.round(v * 1000) / 10}%`);

function rangeOf(form) {
  const start = fromZoneInput(form.start.value), end = fromZoneInput(form.end.value);
  return end >= start ? { start: new Date(start).toISOString(), end: new Date(end + 86400e3).toISOString() } : null;
}

function rankTable(id, rows, keyName, nameOf = (k) => k) {
  return h(`table.report#${id}`, h("thead", h("tr", [keyName, t("s.cases"), t("rp.handled"), t("rp.onTime"), t("rp.median")].map((x) => h("th", x)))),
    h("tbody", rows.map((r) => h("tr", { dataset: { key: r.key } }, h("td", nameOf(r.key)), h("td.num", String(r.cases)), h("td.num", String(r.handled)),
      h("td.num", pctText(r.on_time_rate)), h("td.num", r.median_handling_h == null ? "—" : String(r.median_handling_h))))));
}

/** A rule as the operator knows it: its type and the names of its zones (the first camera that has it). */
function ruleName(id) {
  for (const camera of store.cameras) {
    const rule = (camera.rules || []).find((r) => r.id === id);
    if (!rule) continue;
    const zones = (rule.zones || []).map((z) => (camera.zones || []).find((x) => x.id === z)?.name || z);
    return `${typeName(rule.type)} · ${zones.join("、")}`;
  }
  return id;
}

function alarmTable(id, rows, nameOf) {
  return h(`table.report#${id}`, h("thead", h("tr", [t("rp.source"), t("rp.events"), t("rp.reviewed"), t("rp.rejected"), t("rp.falseRate")].map((x) => h("th", x)))),
    h("tbody", rows.map((r) => h("tr", { dataset: { key: r.key } }, h("td", nameOf(r.key)), h("td.num", String(r.events)), h("td.num", String(r.reviewed)),
      h("td.num", String(r.rejected)), h("td.num", pctText(r.false_alarm_rate))))));
}

function reportPanel() {
  const today = toZoneInput(Date.now()).slice(0, 10), before = toZoneInput(Date.now() - 13 * 86400e3).slice(0, 10);
  const form = h("form.filters#report-form", { onsubmit: (e) => { e.preventDefault(); load(); } },
    h("label.filter", h("span", t("rp.from")), h("input", { type: "date", name: "start", value: before })),
    h("label.filter", h("span", t("rp.to")), h("input", { type: "date", name: "end", value: today })),
    h("button.primary#report-load", { type: "submit" }, t("rp.load")),
    h("button#report-csv", { type: "button", onclick: () => download("csv") }, t("rp.csv")),
    h("button#report-xlsx", { type: "button", onclick: () => download("xlsx") }, t("rp.xlsx")));
  const body = h("div#report-body");
  const cameraName = (id) => store.cameraById.get(id)?.name || id;
  async function load() {
    const range = rangeOf(form);
    if (!range) return;
    try {
      const r = await API.getCaseReport(range);
      const totals = r.totals || {};
      clear(body).append(
        h("div.kpis", h("div.kpi", h("b#report-total", String(totals.cases ?? 0)), h("span", t("s.cases"))),
          h("div.kpi", h("b", String(totals.handled ?? 0)), h("span", t("rp.handled"))),
          h("div.kpi", h("b#report-ontime", pctText(totals.on_time_rate)), h("span", t("rp.onTime"))),
          h("div.kpi", h("b", totals.median_handling_h == null ? "—" : `${totals.median_handling_h} h`), h("span", t("rp.median")))),
        h("div.stats-grid", RANKS.map((name) => h("div.panel", h("h3", t(`rp.${name}`)), rankTable(`report-${name}`, r[name] || [], t(`rp.${name}Key`), name === "by_camera" ? cameraName : undefined))),
          h("div.panel", h("h3", t("rp.falseByCamera")), alarmTable("report-false-camera", r.false_alarms?.camera || [], cameraName)),
          h("div.panel", h("h3", t("rp.falseByRule")), alarmTable("report-false-rule", r.false_alarms?.rule || [], ruleName))),
        h("p.muted", `${fmtDateTime(r.start)} — ${fmtDateTime(r.end)}`));
    } catch (err) { toast(errorText(err), "error"); }
  }
  function download(format) {
    const range = rangeOf(form);
    if (range) API.download(API.caseReportUrl(range, format), `report-${form.start.value}-${form.end.value}.${format}`).catch((err) => toast(errorText(err), "error"));
  }
  load();
  return h("div.panel#report-panel", h("h3", t("rp.title")), form, body);
}

export function leave() { for (const c of charts) c.destroy(); charts = []; }
