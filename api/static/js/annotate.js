// The annotate dialog (标注, issue #18): an alert's evidence image, or a camera's current frame, with
// labelled boxes the operator draws (drag on the image), moves (drag a box) or resizes (drag its
// corner); the detector's box is shown to start from. Saved boxes are normalised to the image (0..1).
// openAnnotate({ event }) or ({ eventId }) for an alert; openAnnotate({ cameraId }) for a camera.
import * as API from "./api.js";
import { t } from "./i18n.js";
import { h, modal, toast, errorText } from "./util.js";

/** Citywatch's labels (vision/labels.py), named in the operators' language through `obj.*`. */
export const LABELS = ["car", "truck", "bus", "motorcycle", "bicycle", "e-bike", "tricycle", "low_speed_ev", "person", "litter", "debris", "traffic_cone", "parking_lock", "chair", "obstacle", "water"];
const MIN_SIZE = 0.005;  // a click without a drag draws no box

function labelName(label) { const s = t(`obj.${label}`); return s === `obj.${label}` ? label : s; }
const clamp = (v) => Math.min(1, Math.max(0, v));
const round = (v) => Math.round(v * 10000) / 10000;

/** The drawing surface: the image, its boxes as positioned elements, and the pointer handling. */
function stage(boxes, labelSelect, hidden) {
  const img = h("img.annotate-image#annotate-image", { alt: "", draggable: false });
  const layer = h("div.annotate-boxes");
  const root = h("div.annotate-stage#annotate-stage", img, layer);
  let selected = boxes.length ? 0 : -1;

  function sync() {
    hidden.value = JSON.stringify(boxes.map((b) => ({ label: b.label, box: b.box.map(round) })));
    layer.replaceChildren(...boxes.map((b, i) => {
      const [x1, y1, x2, y2] = b.box;
      return h("div.annotate-box", {
        class: i === selected ? "selected" : "", dataset: { index: i, label: b.label },
        style: `left:${x1 * 100}%;top:${y1 * 100}%;width:${(x2 - x1) * 100}%;height:${(y2 - y1) * 100}%`,
      },
      h("span.annotate-label", labelName(b.label)),
      h("button.annotate-remove", { type: "button", title: t("an.remove"), "aria-label": t("an.remove"), onpointerdown: (e) => e.stopPropagation(), onclick: () => { boxes.splice(i, 1); selected = -1; sync(); } }, "×"),
      h("span.annotate-handle", { dataset: { handle: "1" } }));
    }));
    if (selected >= 0 && boxes[selected]) labelSelect.value = boxes[selected].label;
  }
  function point(e) {
    const r = root.getBoundingClientRect();
    return [clamp((e.clientX - r.left) / r.width), clamp((e.clientY - r.top) / r.height)];
  }
  root.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    const [px, py] = point(e);
    const boxEl = e.target.closest(".annotate-box");
    const index = boxEl ? Number(boxEl.dataset.index) : -1;
    const mode = index < 0 ? "draw" : e.target.dataset.handle ? "resize" : "move";
    if (mode === "draw") { boxes.push({ label: labelSelect.value, box: [px, py, px, py] }); selected = boxes.length - 1; }
    else selected = index;
    const start = [...boxes[selected].box];
    root.setPointerCapture?.(e.pointerId);
    const onMove = (m) => {
      const [qx, qy] = point(m), b = boxes[selected];
      if (mode === "draw") b.box = [Math.min(px, qx), Math.min(py, qy), Math.max(px, qx), Math.max(py, qy)];
      else if (mode === "resize") b.box = [start[0], start[1], Math.max(start[0] + MIN_SIZE, qx), Math.max(start[1] + MIN_SIZE, qy)];
      else {
        const w = start[2] - start[0], hh = start[3] - start[1];
        const x = Math.min(1 - w, Math.max(0, start[0] + qx - px)), y = Math.min(1 - hh, Math.max(0, start[1] + qy - py));
        b.box = [x, y, x + w, y + hh];
      }
      sync();
    };
    const onUp = () => {
      root.removeEventListener("pointermove", onMove);
      const b = boxes[selected];
      if (mode === "draw" && (b.box[2] - b.box[0] < MIN_SIZE || b.box[3] - b.box[1] < MIN_SIZE)) { boxes.splice(selected, 1); selected = -1; }
      sync();
    };
    root.addEventListener("pointermove", onMove);
    root.addEventListener("pointerup", onUp, { once: true });
    sync();
  });
  labelSelect.addEventListener("change", () => { if (selected >= 0 && boxes[selected]) { boxes[selected].label = labelSelect.value; sync(); } });
  sync();
  return { root, img, sync };
}

/** Where the image comes from and what the annotation refers to. */
async function source({ event, eventId, cameraId }) {
  if (cameraId) {
    const frame = await API.api("/api/annotations/frames", { method: "POST", body: { camera_id: cameraId } });
    return { url: frame.url, body: { frame: frame.frame, camera_id: frame.camera_id, stream_ts: frame.stream_ts, taken_at: frame.taken_at }, title: cameraId };
  }
  const ev = event || await API.getEvent(eventId);
  return { url: ev.snapshot_url || `/api/events/${ev.id}/snapshot.jpg`, body: { event_id: ev.id }, event: ev, title: `#${ev.id}` };
}

/** Open the dialog; resolves with the stored annotation, or null when cancelled or failed. */
export async function openAnnotate(target = {}) {
  let from;
  try { from = await source(target); } catch (err) { toast(err.status === 404 ? t("an.noFrame") : errorText(err), "error"); return null; }
  const boxes = [];
  const labelSelect = h("select#annotate-label", { name: "label", "aria-label": t("an.label") },
    LABELS.map((l) => h("option", { value: l }, labelName(l))));
  if (from.event?.label && LABELS.includes(from.event.label)) labelSelect.value = from.event.label;
  const hidden = h("input#annotate-boxes", { type: "hidden", name: "boxes", value: "[]" });
  const surface = stage(boxes, labelSelect, hidden);
  API.loadImage(surface.img, from.url, { cache: false }).then(async (ok) => {
    const ev = from.event, img = surface.img;
    if (ok) await img.decode().catch(() => {});
    if (ok && ev?.box && img.naturalWidth && !boxes.length) {  // the detector's box, to adjust
      const [x1, y1, x2, y2] = ev.box;
      boxes.push({ label: LABELS.includes(ev.label) ? ev.label : labelSelect.value,
        box: [clamp(x1 / img.naturalWidth), clamp(y1 / img.naturalHeight), clamp(x2 / img.naturalWidth), clamp(y2 / img.naturalHeight)] });
      surface.sync();
    }
    surface.root.dataset.ready = ok ? "1" : "0";
  });
  const body = h("div.annotate#annotate",
    h("p.muted", t("an.hint")),
    h("label.filter", h("span", t("an.label")), labelSelect),
    surface.root, hidden);
  const answer = await modal(`${t("an.title")} · ${from.title}`, body, { okText: t("a.save") });
  if (!answer) return null;
  try {
    const saved = await API.api("/api/annotations", { method: "POST", body: { ...from.body, boxes: JSON.parse(answer.boxes || "[]") } });
    toast(t("an.saved").replace("{n}", String(saved.boxes.length)), "ok");
    return saved;
  } catch (err) {
    toast(errorText(err), "error");
    return null;
  }
}

/** The "标注" button the queue and the case page show beside an alert's evidence. */
export function annotateButton(event, id = "btn-annotate") {
  return h(`button.ghost#${id}`, { type: "button", dataset: { event: event.id }, onclick: () => openAnnotate({ event }) }, t("an.open"));
}
