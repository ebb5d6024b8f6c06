// Building DOM nodes. Every string becomes a text node, never markup: a message text
// or a contact name is shown as the characters it is.

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

export function show(node, visible) {
  node.hidden = !visible;
}

export function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

// An error from the API as a person reads it: its code, its words, the field.
export function explain(error) {
  if (!error?.code) return String(error?.message ?? error);
  return `${error.code}: ${error.message}${error.param ? ` (${error.param})` : ""}`;
}
