// Live video in the camera wall's tiles (分屏): the wall (wall.js) pages and filters the cameras and
// hands one page of them here; each tile's screen plays live (live.js). Only tiles on screen stream:
// an IntersectionObserver opens a tile's socket when it comes into view and closes it when it
// leaves; a page change or leaving the wall closes them all.
import { t } from "./i18n.js";
import { mountLive } from "./live.js";
import { h, stateName } from "./util.js";

export const SPLITS = [1, 4, 9, 16];

/** Whether this process can stream `camera` (the inline engine reads it, and it is switched on). */
export function canStream(camera) {
  return camera.enabled !== false && (!camera.worker || camera.worker === "inline");
}

/** One page of live tiles (`cameras`, at most `split` of them) into `container`, laid out
 *  `split` a page (1, 4, 9 or 16). Returns {close()}, which closes every player. */
export function mountSplit(container, cameras, split) {
  const players = new Map();
  const tiles = cameras.map((camera) => {
    const screen = h("div.split-screen");
    const state = camera.health?.state || (camera.enabled === false ? "stopped" : "unknown");
    if (!canStream(camera)) screen.append(h("div.live-note", t(camera.enabled === false ? "lv.disabled" : "lv.unavailable")));
    return h("div.split-tile", { dataset: { id: camera.id, stream: String(canStream(camera)) } },
      screen,
      h("a.split-name", { href: `#/camera/${encodeURIComponent(camera.id)}` }, h("span", camera.name || camera.id), h("span.state", { class: state }, stateName(state))));
  });
  const grid = h("div.split-grid.wall-grid#split-grid", { class: `split-${split}`, dataset: { split: String(split) } }, tiles);
  container.append(grid);

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
