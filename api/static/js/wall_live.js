// The camera wall's split view (分屏): 1, 4, 9 or 16 live players a page, paged with prev/next.
// Only tiles on screen stream: an IntersectionObserver opens a tile's socket when it comes into
// view and closes it when it leaves; a page change or leaving the wall closes them all.
import { t } from "./i18n.js";
import { mountLive } from "./live.js";
import { h, stateName } from "./util.js";

export const SPLITS = [1, 4, 9, 16];

/** Whether this process can stream `camera` (the inline engine reads it, and it is switched on). */
export function canStream(camera) {
  return camera.enabled !== false && (!camera.worker || camera.worker === "inline");
}

/** The split view of `cameras` into `container` ({split, page} in `view`, changed in place, and
 *  `onChange()` called after a change). Returns {close()}. */
export function mountSplit(container, cameras, view, onChange = () => {}) {
  const split = SPLITS.includes(view.split) ? view.split : 4;
  const pages = Math.max(1, Math.ceil(cameras.length / split));
  view.page = Math.min(Math.max(0, view.page || 0), pages - 1);
  const shown = cameras.slice(view.page * split, (view.page + 1) * split);
  const players = new Map();
  const go = (page) => { view.page = page; onChange(); };
  const splitButton = (n) => h("button.chip.split-choice", { type: "button", class: n === split ? "active" : "", dataset: { split: String(n) }, "aria-pressed": String(n === split), onclick: () => { view.split = n; view.page = 0; onChange(); } }, t(`wall.split${n}`));
  const bar = h("div.split-bar",
    h("span.muted", t("wall.split")), h("div.chips#split-choices", SPLITS.map(splitButton)),
    h("button.ghost#split-prev", { type: "button", disabled: view.page === 0, "aria-label": t("wall.prev"), onclick: () => go(view.page - 1) }, `◀ ${t("wall.prev")}`),
    h("span#split-page", { dataset: { page: String(view.page), pages: String(pages) } }, `${view.page + 1} / ${pages}`),
    h("button.ghost#split-next", { type: "button", disabled: view.page >= pages - 1, "aria-label": t("wall.next"), onclick: () => go(view.page + 1) }, `${t("wall.next")} ▶`));
  const tiles = shown.map((camera) => {
    const screen = h("div.split-screen");
    const state = camera.health?.state || (camera.enabled === false ? "stopped" : "unknown");
    if (!canStream(camera)) screen.append(h("div.live-note", t(camera.enabled === false ? "lv.disabled" : "lv.unavailable")));
    return h("div.split-tile", { dataset: { id: camera.id, stream: String(canStream(camera)) } },
      screen,
      h("a.split-name", { href: `#/camera/${encodeURIComponent(camera.id)}` }, h("span", camera.name || camera.id), h("span.state", { class: state }, stateName(state))));
  });
  const grid = h("div.split-grid#split-grid", { class: `split-${split}`, dataset: { split: String(split) } }, tiles);
  container.append(bar, grid);

  const stop = (id) => { players.get(id)?.close(); players.delete(id); };
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const id = entry.target.dataset.id;
      if (entry.isIntersecting && !players.has(id)) players.set(id, mountLive(entry.target.querySelector(".split-screen"), id, { muted: true }));
      else if (!entry.isIntersecting) stop(id);
    }
  });
  for (const el of tiles) if (el.dataset.stream === "true") observer.observe(el);
  return {
    close() {
      observer.disconnect();
      for (const id of [...players.keys()]) stop(id);
    },
  };
}
