// A message as a chat bubble: its words, its media, its time and its ticks.
import { h, time } from "./dom.js";

const TICKS = {
  pending: "🕓",
  scheduled: "🕓",
  sent: "✓",
  delivered: "✓✓",
  read: "✓✓",
};

export function contactOf(message) {
  return message.direction === "outbound" ? message.to : message.from;
}

// A template's body with its parameters filled in, from the catalogue when known.
export function fillTemplate(content, templates) {
  const known = templates.find((t) => t.name === content.name && t.language === content.language);
  const params = content.params ?? {};
  const value = (name) => (Array.isArray(params) ? params[Number(name) - 1] : params[name]);
  if (!known?.body) {
    const given = Array.isArray(params) ? params : Object.values(params);
    return `${content.name}${given.length ? ` (${given.join(", ")})` : ""}`;
  }
  return known.body.replace(/\{\{\s*([\w]+)\s*\}\}/g, (all, name) => value(name) ?? all);
}

// The words a message shows, whatever its kind.
export function describe(message, templates) {
  if (message.erased_at) return "(erased)";
  if (message.direction === "inbound") {
    if (message.text) return message.text;
    if (message.media?.caption) return message.media.caption;
    return message.kind === "text" ? "" : `[${message.kind}]`;
  }
  const content = message.content;
  switch (message.mode) {
    case "text":
      return typeof content === "string" ? content : content?.body ?? "";
    case "template":
      return content ? `Template ${content.name}: ${fillTemplate(content, templates)}` : "Template";
    case "interactive":
      return interactiveText(content);
    case "media":
      return content?.caption ?? "";
    case "reaction":
      return content?.emoji ?? "[reaction]";
    case "location":
      return ["📍", content?.name, content?.address].filter(Boolean).join(" ");
    default:
      return `[${message.mode ?? "message"}]`;
  }
}

function interactiveText(content) {
  if (!content) return "[interactive]";
  const body = typeof content.body === "string" ? content.body : content.body?.text;
  const choices = (content.buttons ?? []).map((b) => b.title ?? b.reply?.title).filter(Boolean);
  return [body, choices.length ? `[${choices.join("] [")}]` : ""].filter(Boolean).join(" ");
}

export function tick(message) {
  const failed = message.error !== null && message.error !== undefined;
  const title = failed
    ? `${message.error.code}: ${message.error.message}`
    : message.status;
  return h(
    "span",
    { class: `tick ${message.status}`, title, dataset: { status: message.status } },
    failed ? "⚠" : TICKS[message.status] ?? "",
  );
}

// The bubble of one message; `media` fills in its picture or download link.
export function bubble(message, { templates, side, media }) {
  const words = describe(message, templates);
  return h(
    "li",
    {
      class: `bubble ${side}`,
      dataset: { id: message.message_id, status: message.status, direction: message.direction },
    },
    message.media ? media(message) : null,
    words ? h("p", { class: "words" }, words) : null,
    h(
      "footer",
      {},
      h("time", { datetime: message.created_at }, time(message.created_at)),
      message.direction === "outbound" ? tick(message) : null,
    ),
  );
}
