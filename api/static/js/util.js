// Small DOM helpers shared by the pages.
import { t } from "./i18n.js";

/** h("div.card#x", {onclick, title}, child, "text", [children]) -> element (text is never parsed as HTML). */
export function h(spec, attrs, ...children) {
  const tag = spec.match(/^[a-z0-9]*/i)[0];
  const el = document.createElement(tag || "div");
  const classes = [];
  for (const [, sigil, name] of spec.slice(tag.length).matchAll(/([#.])([\w-]+)/g)) {
    if (sigil === "#") el.id = name; else classes.push(name);
  }
  if (classes.length) el.className = classes.join(" ");
  const plain = attrs !== null && typeof attrs === "object" && Object.getPrototypeOf(attrs) === Object.prototype;
  if (!plain) { children.unshift(attrs); attrs = null; }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className += (el.className ? " " : "") + value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

export function toast(text, kind = "info") {
  const el = h("div.toast", { class: kind, role: "status" }, text);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), 4000);
}

/** The console's one modal: resolves with the form's values, or null when cancelled. */
export function modal(title, body, { okText = t("a.ok"), danger = false } = {}) {
  const dialog = document.getElementById("dialog");
  clear(dialog);
  const form = h("form", { method: "dialog" },
    h("h2", title), body,
    h("div.actions",
      h("button.ghost", { type: "button", value: "cancel", onclick: () => dialog.close("cancel") }, t("a.cancel")),
      h("button", { type: "submit", value: "ok", class: danger ? "danger" : "primary", id: "dialog-ok" }, okText)));
  dialog.append(form);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      if (dialog.returnValue !== "ok") return resolve(null);
      resolve(Object.fromEntries(new FormData(form).entries()));
    }, { once: true });
    dialog.returnValue = "";
    form.addEventListener("submit", (e) => { e.preventDefault(); dialog.close("ok"); });
    form.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.target.closest("textarea, button")) { e.preventDefault(); dialog.close("ok"); }
    });
    dialog.showModal();
    const first = form.querySelector("input:not([type=radio]), select, textarea, input[type=radio]:checked") || form.querySelector("#dialog-ok");
    first?.focus();
  });
}

export function typeName(type) { const s = t(`type.${type}`); return s === type ? type.replace(/_/g, " ") : s; }
/** A detection label as the operator says it (车辆 / 非机动车 / ...), the label itself when unknown. */
export function objectName(label) {
  if (!label) return "—";
  const name = t(`obj.${label}`);
  return name === `obj.${label}` ? label : name;
}
/** Who did it, in words: the ledger's own actors ("system", "system:camera") named; a user's login as is. */
export function actorName(actor) {
  return actor ? t(`actor.${actor}`) : "—";  // an unknown key is answered with the actor itself
}
export function stateName(state) { return t(`st.${state || "unknown"}`); }
export function errorText(err) {
  if (err && err.status === 403) return t("toast.denied");
  if (err && (err.status === 0 || (err instanceof TypeError && /fetch/i.test(err.message)))) return `${t("toast.error")}: ${t("conn.unreachable")}`;
  return `${t("toast.error")}: ${err && err.message ? err.message : err}`;
}
