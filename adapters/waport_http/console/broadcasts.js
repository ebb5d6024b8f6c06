// Broadcasts: one template to a pasted list of numbers, with its progress and each row.
import { $, explain, h, show } from "./dom.js";
import { paramInputs, templateParams } from "./templates.js";

const POLL_MS = 500;

export class Broadcasts {
  constructor(ui) {
    this.ui = ui;
    this.polling = null;
    $("broadcast-form").addEventListener("submit", (e) => this.start(e));
    $("broadcast-template").addEventListener("change", () => this.showParams());
  }

  showParams() {
    paramInputs($("broadcast-template"), $("broadcast-params"));
  }

  async start(event) {
    event.preventDefault();
    $("broadcast-error").textContent = "";
    const template = templateParams($("broadcast-template"), $("broadcast-params"));
    const numbers = $("broadcast-numbers")
      .value.split(/[\n,;]+/)
      .map((n) => n.trim())
      .filter(Boolean);
    if (!template || !numbers.length) {
      $("broadcast-error").textContent = "Pick a template and paste at least one number.";
      return;
    }
    try {
      const started = await this.ui.api.post("/v1/broadcasts", {
        template,
        sender_id: this.ui.sender,
        recipients: numbers.map((to) => ({ to })),
      });
      this.follow(started.data.broadcast_id);
    } catch (error) {
      $("broadcast-error").textContent = explain(error);
    }
  }

  // Polls the broadcast until no row is pending, drawing the bar and the rows each time.
  follow(broadcastId) {
    clearTimeout(this.polling);
    show($("broadcast-status"), true);
    const tick = async () => {
      let body;
      try {
        body = (await this.ui.api.get(`/v1/broadcasts/${broadcastId}`)).data;
      } catch (error) {
        $("broadcast-error").textContent = explain(error);
        return;
      }
      this.draw(body);
      if (body.summary.pending > 0) this.polling = setTimeout(tick, POLL_MS);
    };
    tick();
  }

  draw({ summary, results }) {
    const done = summary.sent + summary.failed;
    $("broadcast-progress").max = summary.total;
    $("broadcast-progress").value = done;
    $("broadcast-count").textContent = `${done}/${summary.total} done (${summary.sent} sent, ${summary.failed} failed)`;
    $("broadcast-rows").replaceChildren(
      ...results.map((row) =>
        h(
          "tr",
          { dataset: { status: row.status } },
          h("td", {}, `+${row.to}`),
          h("td", {}, row.status),
          h("td", {}, row.error ? `${row.error.code}: ${row.error.message}` : ""),
        ),
      ),
    );
  }
}
