// The sandbox phone: the open chat's contact, played by you. What the business sends
// arrives here; what you type here reaches the business as that customer's message.
import { $, explain, show } from "./dom.js";
import { bubble } from "./render.js";

export class Phone {
  constructor(ui) {
    this.ui = ui;
    $("phone-form").addEventListener("submit", (e) => this.send(e));
  }

  enable(on) {
    this.on = on;
    show($("phone"), on);
  }

  render() {
    if (!this.on) return;
    const inbox = this.ui.inbox;
    $("phone-contact").textContent = inbox.contact
      ? `You are +${inbox.contact}`
      : "Open a conversation to be that customer.";
    const templates = this.ui.templates;
    $("phone-messages").replaceChildren(
      ...inbox.ordered().map((m) =>
        bubble(m, { templates, side: m.direction === "inbound" ? "out" : "in", media: this.ui.media }),
      ),
    );
  }

  async send(event) {
    event.preventDefault();
    const contact = this.ui.inbox.contact;
    const text = $("phone-text").value;
    const file = $("phone-file").files[0];
    $("phone-error").textContent = "";
    if (!contact || (!text && !file)) return;
    try {
      const body = { from: contact, to_sender: this.ui.sender, text };
      if (file) body.media = { id: (await this.ui.api.upload(file)).data.media_id };
      await this.ui.api.post("/v1/sandbox/inbound", body);
      event.target.reset();
    } catch (error) {
      $("phone-error").textContent = explain(error);
    }
  }
}
