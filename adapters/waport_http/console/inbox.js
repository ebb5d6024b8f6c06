// The inbox: conversations, one chat at a time, and what the business can send there.
import { $, explain, h, show, time } from "./dom.js";
import { bubble, contactOf } from "./render.js";
import { paramInputs, templateParams } from "./templates.js";

export class Inbox {
  constructor(ui) {
    this.ui = ui; // the console: api, sender, templates, media(), phone
    this.contact = null;
    this.messages = new Map(); // message_id -> message, of the open chat
    this.names = new Map(); // number -> {name, labels}
    this.window = null;
    this.reloading = null;
    $("new-chat").addEventListener("submit", (e) => this.openTyped(e));
    $("text-form").addEventListener("submit", (e) => this.sendText(e));
    $("template-form").addEventListener("submit", (e) => this.sendTemplate(e));
    $("media-form").addEventListener("submit", (e) => this.sendMedia(e));
    $("template").addEventListener("change", () => this.showParams());
  }

  get api() {
    return this.ui.api;
  }

  // The conversation list, newest first, with each contact's name and labels.
  async reload() {
    const [chats, contacts] = await Promise.all([
      this.api.get("/v1/conversations?limit=100"),
      this.api.get("/v1/contacts?limit=100").catch(() => ({ data: [] })),
    ]);
    for (const c of contacts.data) this.names.set(c.phone, c);
    const list = $("conversations");
    list.replaceChildren(...chats.data.map((chat) => this.row(chat)));
  }

  reloadSoon() {
    clearTimeout(this.reloading);
    this.reloading = setTimeout(() => this.reload().catch(() => {}), 150);
  }

  row(chat) {
    const known = this.names.get(chat.contact);
    const labels = known?.labels ?? [];
    return h(
      "li",
      {
        class: `conversation${chat.contact === this.contact ? " open" : ""}`,
        dataset: { contact: chat.contact },
        onclick: () => this.open(chat.contact),
      },
      h("strong", {}, known?.name || `+${chat.contact}`),
      chat.unread ? h("span", { class: "unread", title: "unread" }, chat.unread) : null,
      h(
        "span",
        { class: `window ${chat.window.within_window ? "open" : "closed"}` },
        chat.window.within_window ? "window open" : "window closed",
      ),
      ...labels.map((label) => h("span", { class: "label" }, label)),
      h("p", { class: "summary" }, chat.last_message.summary ?? ""),
      h("time", {}, time(chat.last_message.created_at)),
    );
  }

  async openTyped(event) {
    event.preventDefault();
    const typed = $("new-contact").value.replace(/\D/g, "");
    if (typed) await this.open(typed);
  }

  // Opens a chat: its messages, its window, and marks the customer's messages read.
  async open(contact) {
    this.contact = contact;
    this.messages.clear();
    $("chat-title").textContent = this.names.get(contact)?.name || `+${contact}`;
    show($("compose"), true);
    $("compose-error").textContent = "";
    const page = await this.api.get(`/v1/conversations/${encodeURIComponent(contact)}?limit=100`);
    for (const message of page.data) this.messages.set(message.message_id, message);
    this.render();
    await Promise.all([this.refreshWindow(), this.markRead()]);
    this.ui.phone.render();
    for (const row of $("conversations").children) {
      row.classList.toggle("open", row.dataset.contact === contact);
    }
  }

  ordered() {
    return [...this.messages.values()].sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  render() {
    const list = $("messages");
    const templates = this.ui.templates;
    list.replaceChildren(
      ...this.ordered().map((m) =>
        bubble(m, { templates, side: m.direction === "outbound" ? "out" : "in", media: this.ui.media }),
      ),
    );
    list.scrollTop = list.scrollHeight;
  }

  // A message from the event stream: shown at once when it is of the open chat.
  take(message) {
    this.reloadSoon();
    if (contactOf(message) !== this.contact) return;
    this.messages.set(message.message_id, message);
    this.render();
    this.ui.phone.render();
    if (message.direction === "inbound") {
      this.refreshWindow();
      this.markRead();
    }
  }

  async markRead() {
    const unread = this.ordered().filter((m) => m.direction === "inbound" && m.status !== "read");
    const newest = unread[unread.length - 1];
    if (!newest) return;
    try {
      await this.api.post(`/v1/messages/${newest.message_id}/read`, {});
    } catch {
      // a key without messages:send reads without marking
    }
  }

  async refreshWindow() {
    const to = encodeURIComponent(this.contact);
    const from = encodeURIComponent(this.ui.sender);
    try {
      this.window = (await this.api.get(`/v1/window-status?to=${to}&from=${from}`)).data;
    } catch (error) {
      this.window = null;
      $("window-note").textContent = explain(error);
      return;
    }
    const open = this.window.within_window;
    $("text").disabled = !open;
    $("send-text").disabled = !open;
    $("chat-window").textContent = open
      ? `Window open until ${new Date(this.window.expires_at).toLocaleString()}`
      : "Window closed";
    $("window-note").textContent = open
      ? ""
      : "The 24-hour window is closed: the customer has not written in the last 24 hours. " +
        "Send an approved template; free text opens again when they reply.";
  }

  async send(body, form) {
    $("compose-error").textContent = "";
    try {
      const sent = await this.api.post("/v1/messages", {
        to: this.contact,
        sender_id: this.ui.sender,
        ...body,
      });
      form?.reset();
      this.showParams();
      return sent;
    } catch (error) {
      $("compose-error").textContent = explain(error);
      return null;
    }
  }

  async sendText(event) {
    event.preventDefault();
    const text = $("text").value;
    if (text.trim()) await this.send({ text }, event.target);
  }

  async sendTemplate(event) {
    event.preventDefault();
    const template = templateParams($("template"), $("template-params"));
    if (template) await this.send({ template }, null);
  }

  async sendMedia(event) {
    event.preventDefault();
    const file = $("media-file").files[0];
    if (!file) return;
    try {
      const stored = await this.api.upload(file);
      const caption = $("media-caption").value;
      const media = { id: stored.data.media_id, ...(caption ? { caption } : {}) };
      await this.send({ media }, event.target);
    } catch (error) {
      $("compose-error").textContent = explain(error);
    }
  }

  showParams() {
    paramInputs($("template"), $("template-params"));
  }
}
