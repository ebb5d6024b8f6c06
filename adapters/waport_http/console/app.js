// The console: sign in with an API key, then the inbox, the sandbox phone and broadcasts,
// kept current by the gateway's event stream.
import { Api } from "./api.js";
import { Broadcasts } from "./broadcasts.js";
import { $, explain, h, show } from "./dom.js";
import { Inbox } from "./inbox.js";
import { Phone } from "./phone.js";
import { fillPicker } from "./templates.js";

const KEY = "waport.key";

class Console {
  constructor() {
    this.api = null;
    this.sender = null;
    this.templates = [];
    this.links = null; // aborts the event stream
    this.blobs = new Map(); // media id -> blob URL
    this.media = (message) => this.mediaNode(message);
    this.inbox = new Inbox(this);
    this.phone = new Phone(this);
    this.broadcasts = new Broadcasts(this);
    $("signin-form").addEventListener("submit", (e) => this.signIn(e));
    $("signout").addEventListener("click", () => this.signOut());
    $("sender").addEventListener("change", () => this.pickSender($("sender").value));
    $("tab-inbox").addEventListener("click", () => this.tab("inbox"));
    $("tab-broadcasts").addEventListener("click", () => this.tab("broadcasts"));
  }

  async boot() {
    const key = sessionStorage.getItem(KEY);
    if (key && (await this.start(key))) return;
    show($("signin"), true);
  }

  async signIn(event) {
    event.preventDefault();
    const key = $("key").value.trim();
    $("signin-error").textContent = "";
    if (await this.start(key)) {
      sessionStorage.setItem(KEY, key);
      $("signin-form").reset();
    }
  }

  signOut() {
    sessionStorage.removeItem(KEY);
    this.links?.abort();
    for (const url of this.blobs.values()) URL.revokeObjectURL(url);
    this.blobs.clear();
    this.api = null;
    location.reload();
  }

  // Checks the key by listing its senders; on success shows the console and goes live.
  async start(key) {
    const api = new Api(key);
    let senders;
    try {
      senders = (await api.get("/v1/senders")).data;
    } catch (error) {
      $("signin-error").textContent =
        error.status === 401 ? "That key is not valid." : explain(error);
      return false;
    }
    this.api = api;
    const settings = await fetch("/console/settings.json").then((r) => r.json());
    $("provider").textContent = `provider: ${settings.provider}`;
    $("sender").replaceChildren(...senders.map((s) => h("option", { value: s.id }, s.name || s.id)));
    show($("signin"), false);
    show($("app"), true);
    this.phone.enable(settings.sandbox);
    await this.pickSender(senders[0]?.id ?? null);
    this.live();
    return true;
  }

  async pickSender(sender) {
    this.sender = sender;
    try {
      const query = sender ? `?sender_id=${encodeURIComponent(sender)}` : "";
      this.templates = (await this.api.get(`/v1/templates${query}`)).data;
    } catch {
      this.templates = []; // a key without templates:read sends free text only
    }
    fillPicker($("template"), this.templates);
    fillPicker($("broadcast-template"), this.templates);
    this.inbox.showParams();
    this.broadcasts.showParams();
    await this.inbox.reload();
    if (this.inbox.contact) await this.inbox.open(this.inbox.contact);
  }

  tab(name) {
    show($("inbox-view"), name === "inbox");
    show($("broadcasts-view"), name === "broadcasts");
    $("tab-inbox").setAttribute("aria-pressed", String(name === "inbox"));
    $("tab-broadcasts").setAttribute("aria-pressed", String(name === "broadcasts"));
  }

  live() {
    this.links?.abort();
    this.links = new AbortController();
    const state = (s) => {
      $("live").dataset.state = s;
      $("live").textContent = s;
      if (s === "signed-out") this.signOut();
    };
    this.api.follow((event) => this.onEvent(event), state, this.links.signal);
  }

  onEvent(event) {
    if (event.event === "message") this.inbox.take(event.data);
    else if (event.event === "reset" && this.inbox.contact) this.inbox.open(this.inbox.contact);
    else if (event.event === "reset") this.inbox.reload();
  }

  // A message's media: a picture inline, anything else as a download.
  mediaNode(message) {
    const media = message.media;
    if (message.direction === "inbound" && media.status !== "ready") {
      const note = media.status === "failed" ? `media failed: ${media.error}` : "fetching media…";
      return h("p", { class: "muted media-note" }, note);
    }
    const name = media.filename || media.id;
    if ((media.mime_type ?? "").startsWith("image/")) {
      const img = h("img", { class: "picture", alt: name, dataset: { media: media.id } });
      this.blobUrl(media.id).then((url) => (img.src = url));
      return img;
    }
    const link = h("a", { class: "download", href: "#", download: name }, `⬇ ${name}`);
    link.addEventListener("click", async (event) => {
      if (link.getAttribute("href") !== "#") return;
      event.preventDefault();
      link.href = await this.blobUrl(media.id);
      link.click();
    });
    return link;
  }

  async blobUrl(mediaId) {
    if (!this.blobs.has(mediaId)) this.blobs.set(mediaId, await this.api.blobUrl(mediaId));
    return this.blobs.get(mediaId);
  }
}

new Console().boot();
