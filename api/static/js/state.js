// Shared state of the console, read by the shell and the pages: the store, role checks, the
// live-message fan-out and the camera and mode refreshes. It imports no page and not app.js: what
// only the shell can do (sign out, draw the mode button) app.js hands in with connectShell.
import * as API from "./api.js";

const listeners = new Set();
const shell = { signOut() {}, renderMode() {} };

/** Shared state of the shell, read by the pages. */
export const store = { user: null, mode: null, cameras: [], cameraById: new Map(), live: false };

/** The shell's own parts that state here calls back ({signOut, renderMode}); app.js sets them before it starts. */
export function connectShell(hooks) { Object.assign(shell, hooks); }

export function can(action) {
  const role = store.user?.role || "viewer";
  if (action === "admin") return role === "admin";
  return role === "operator" || role === "admin";
}
/** Subscribe to live messages ({kind, data, at}); returns an unsubscribe function. */
export function onLive(fn) { listeners.add(fn); return () => listeners.delete(fn); }
/** Hand a live message to every subscriber; one that throws does not stop the others. */
export function notify(message) {
  for (const fn of listeners) { try { fn(message); } catch (err) { console.warn("live listener", err); } }
}

export async function refreshCameras() {
  try {
    store.cameras = await API.listCameras();
    store.cameraById = new Map(store.cameras.map((c) => [c.id, c]));
  } catch (err) { if (err.status === 401) shell.signOut(); }
  return store.cameras;
}

export async function refreshMode() {
  try { store.mode = await API.getMode(); } catch { store.mode = store.mode || null; }
  shell.renderMode();
}
