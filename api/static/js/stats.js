// Statistics: cases per day by type and by district, on-time closure rate, camera uptime (Chart.js, vendored).
import * as API from "./api.js";
import { store } from "./app.js";
import { dayKey, t } from "./i18n.js";
import { clear, h, typeName } from "./util.js";

const COLORS = ["#1f6feb", "#d97706", "#1a7f37", "#8250df", "#cf222e", "#0891b2", "#9a6700", "#57606a"];
const DAYS = 14;
let charts = [];

function lastDays(n) {
  const out = [];
  for (let i = n - 1; i >= 0; i -= 1) out.push(dayKey(new Date(Date.now() - i * 86400e3)));
  return out;
}

/** Cases per day split by `keyOf`, over the last DAYS days: {labels, datasets}. */
function perDay(cases, keyOf, nameOf = (k) => k) {
  const days = lastDays(DAYS), index = new Map(days.map((d, i) => [d, i])), series = new Map();
  for (const c of cases) {
    const i = index.get(dayKey(c.created_at));
    if (i === undefined) continue;
    const key = keyOf(c) || "—";
    if (!series.has(key)) series.set(key, new Array(days.length).fill(0));
    series.get(key)[i] += 1;
  }
  return { labels: days.map((d) => d.slice(5)), datasets: [...series.entries()].map(([key, data], i) => ({ label: nameOf(key), data, backgroundColor: COLORS[i % COLORS.length] })) };
}

function onTime(cases) {
  let early = 0, late = 0;
  for (const c of cases) {
    if (c.status !== "closed") continue;
    if (c.deadline && c.closed_at && new Date(c.closed_at) > new Date(c.deadline)) late += 1; else early += 1;
  }
  const overdue = cases.filter((c) => c.overdue).length;
  return { early, late, overdue, rate: early + late ? early / (early + late) : null };
}

/** Uptime per camera (0..1): from the statistics endpoint when it has it, else the current state. */
function uptime(stats) {
  const fromApi = stats?.camera_uptime || stats?.uptime;
  if (fromApi && typeof fromApi === "object") {
    const entries = Array.isArray(fromApi) ? fromApi.map((x) => [x.camera_id, x.uptime ?? x.ratio ?? x.value]) : Object.entries(fromApi);
    return entries.map(([id, v]) => [id, typeof v === "object" && v ? (v.uptime ?? v.ratio ?? 0) : Number(v) || 0]);
  }
  return store.cameras.map((c) => [c.id, ["online", "running"].includes(c.health?.state) ? 1 : 0]);
}

function chart(canvas, config) {
  const ChartJS = window.Chart;
  if (!ChartJS) return;
  charts.push(new ChartJS(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }, ...config.options } }));
}

export async function render(main) {
  const root = h("section.stats");
  main.append(root);
  const [cases, stats] = await Promise.all([
    API.listCases().then(API.items).catch(() => []),
    API.getStatistics({ days: DAYS }).catch(() => null),
  ]);
  const closure = onTime(cases);
  const pct = closure.rate == null ? "—" : `${Math.round(closure.rate * 100)}%`;
  const canvases = { type: h("canvas#chart-type"), district: h("canvas#chart-district"), ontime: h("canvas#chart-ontime"), uptime: h("canvas#chart-uptime") };
  clear(root).append(
    h("div.kpis",
      h("div.kpi", h("b", String(cases.length)), h("span", t("s.cases"))),
      h("div.kpi", h("b", String(closure.early + closure.late)), h("span", t("s.closed"))),
      h("div.kpi", h("b#kpi-ontime", pct), h("span", t("s.rate"))),
      h("div.kpi", h("b", { class: closure.overdue ? "error" : "" }, String(closure.overdue)), h("span", t("s.overdueNow")))),
    h("div.stats-grid",
      h("div.panel", h("h3", `${t("s.byType")} · ${t("s.days")}`), canvases.type),
      h("div.panel", h("h3", `${t("s.byDistrict")} · ${t("s.days")}`), canvases.district),
      h("div.panel", h("h3", t("s.onTime")), canvases.ontime),
      h("div.panel", h("h3", t("s.uptime")), canvases.uptime)));
  const stacked = { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } };
  chart(canvases.type, { type: "bar", data: perDay(cases, (c) => c.type, typeName), options: stacked });
  const district = (c) => c.district || store.cameraById.get(c.camera_id)?.district;
  chart(canvases.district, { type: "bar", data: perDay(cases, district), options: stacked });
  chart(canvases.ontime, { type: "doughnut", data: { labels: [t("s.onTimeClosed"), t("s.late"), t("s.openOverdue")],
    datasets: [{ data: [closure.early, closure.late, closure.overdue], backgroundColor: ["#1a7f37", "#d97706", "#cf222e"] }] }, options: { cutout: "60%" } });
  const up = uptime(stats);
  chart(canvases.uptime, { type: "bar", data: { labels: up.map(([id]) => store.cameraById.get(id)?.name || id),
    datasets: [{ label: t("s.uptime"), data: up.map(([, v]) => Math.round(v * 1000) / 10), backgroundColor: up.map(([, v]) => (v >= 0.95 ? "#1a7f37" : v >= 0.8 ? "#d97706" : "#cf222e")) }] },
  options: { indexAxis: "y", scales: { x: { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } } }, plugins: { legend: { display: false } } } });
}

export function leave() { for (const c of charts) c.destroy(); charts = []; }
