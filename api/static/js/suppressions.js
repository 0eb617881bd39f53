// The suppressions page (误报抑制, issue #18; admins): what rejected alerts have taught — proposals
// and active suppressions, each with its region drawn on the camera's evidence image, how many
// events it held back, and the buttons to activate or undo it.
import * as API from "./api.js";
import { fmtDateTime, t } from "./i18n.js";
import { can, store } from "./state.js";
import { clear, errorText, h, toast } from "./util.js";

const ORDER = ["proposed", "active", "revoked"];
let root = null;

function labelName(label) { const s = t(`obj.${label}`); return s === `obj.${label}` ? label : s; }

function regionImage(s) {
  const [x1, y1, x2, y2] = s.region;
  const img = h("img", { alt: "" });
  if (s.image_event_id) API.loadImage(img, `/api/events/${s.image_event_id}/snapshot.jpg`);
  return h("div.suppression-image",
    img,
    h("div.suppression-region", { style: `left:${x1 * 100}%;top:${y1 * 100}%;width:${(x2 - x1) * 100}%;height:${(y2 - y1) * 100}%` }));
}

async function decide(s, decision) {
  try {
    await API.api(`/api/suppressions/${s.id}/${decision}`, { method: "POST" });
    toast(t(decision === "activate" ? "sp.activated" : "sp.revoked"), "ok");
    await draw();
  } catch (err) { toast(errorText(err), "error"); }
}

function card(s) {
  const camera = store.cameraById.get(s.camera_id);
  const buttons = [];
  if (s.status !== "active") buttons.push(h("button.primary.btn-activate", { type: "button", onclick: () => decide(s, "activate") }, t(s.status === "revoked" ? "sp.reactivate" : "sp.activate")));
  if (s.status !== "revoked") buttons.push(h("button.danger.btn-revoke", { type: "button", onclick: () => decide(s, "revoke") }, t(s.status === "active" ? "sp.undo" : "sp.dismiss")));
  return h("article.panel.suppression", { dataset: { id: s.id, status: s.status } },
    regionImage(s),
    h("div.suppression-facts",
      h("h3", h("span.suppression-status", { class: s.status }, t(`sp.st.${s.status}`)), " ", camera?.name || s.camera_id),
      h("dl.facts",
        h("dt", t("sp.label")), h("dd", labelName(s.label)),
        h("dt", t("sp.reason")), h("dd", s.reason),
        h("dt", t("sp.learnt")), h("dd", t("sp.fromN").replace("{n}", String(s.event_ids.length))),
        h("dt", t("sp.held")), h("dd.suppressed-count", String(s.suppressed)),
        s.min_confidence != null ? [h("dt", t("sp.confidence")), h("dd", `< ${Math.round(s.min_confidence * 100)}%`)] : null,
        h("dt", t("sp.created")), h("dd", fmtDateTime(s.created_at)),
        s.decided_by ? [h("dt", t("sp.decided")), h("dd", `${s.decided_by} · ${fmtDateTime(s.decided_at)}`)] : null),
      h("div.actions", buttons)));
}

async function draw() {
  const page = await API.api("/api/suppressions");
  if (!root) return;
  const list = API.items(page).sort((a, b) => ORDER.indexOf(a.status) - ORDER.indexOf(b.status));
  clear(root).append(
    h("h2", t("sp.title")), h("p.muted", t("sp.hint")),
    list.length ? h("div.suppression-list#suppression-list", list.map(card)) : h("p.muted#suppression-none", t("sp.none")));
}

export async function render(main) {
  root = main;
  if (!can("admin")) { main.append(h("p.error", t("toast.denied"))); return; }
  await draw();
}

export function leave() { root = null; }
