// The gateway's REST API with the signed-in key, and its event stream.
// The key goes in the Authorization header only, never in a URL.

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error?.code ?? "HTTP_ERROR";
    this.param = error?.param ?? null;
  }
}

export class Api {
  constructor(key) {
    this.key = key;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, ...extra };
  }

  async call(method, path, body) {
    const init = { method, headers: this.headers() };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    return this.answer(await fetch(path, init));
  }

  get(path) {
    return this.call("GET", path);
  }

  post(path, body = {}) {
    return this.call("POST", path, body);
  }

  // A file to the media store: its bytes are the body, streamed by the browser.
  async upload(file) {
    const name = encodeURIComponent(file.name || "file");
    const type = file.type || "application/octet-stream";
    const init = { method: "POST", headers: this.headers({ "Content-Type": type }), body: file };
    return this.answer(await fetch(`/v1/media?filename=${name}`, init));
  }

  // A stored media as a blob URL (an <img> cannot send the key itself).
  async blobUrl(mediaId) {
    const response = await fetch(`/v1/media/${encodeURIComponent(mediaId)}`, {
      headers: this.headers(),
    });
    if (!response.ok) await this.answer(response);
    return URL.createObjectURL(await response.blob());
  }

  async answer(response) {
    const text = await response.text();
    const payload = text ? JSON.parse(text) : {};
    if (!response.ok) throw new ApiError(response.status, payload.error);
    return payload;
  }

  // Follows GET /v1/events/stream until `signal` aborts, reconnecting with
  // Last-Event-ID after a drop; onEvent gets {event, id, data}, onState the link's state.
  async follow(onEvent, onState, signal) {
    let last = null;
    while (!signal.aborted) {
      try {
        const headers = this.headers({ Accept: "text/event-stream" });
        if (last !== null) headers["Last-Event-ID"] = last;
        const response = await fetch("/v1/events/stream", { headers, signal });
        if (!response.ok) await this.answer(response);
        onState("live");
        for await (const event of events(response.body, signal)) {
          if (event.id !== null) last = event.id;
          onEvent(event);
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) {
          onState("signed-out");
          return;
        }
      }
      onState("reconnecting");
      await new Promise((done) => setTimeout(done, 2000));
    }
  }
}

// The events of a text/event-stream body, as the EventSource specification parses them.
async function* events(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (!signal.aborted) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replaceAll("\r\n", "\n");
      let cut = buffer.indexOf("\n\n");
      while (cut >= 0) {
        const event = parse(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (event) yield event;
        cut = buffer.indexOf("\n\n");
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function parse(block) {
  const fields = {};
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const at = line.indexOf(":");
    const name = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
    fields[name] = name === "data" && fields.data !== undefined ? `${fields.data}\n${value}` : value;
  }
  if (fields.data === undefined && fields.event === undefined) return null;
  return {
    event: fields.event ?? "message",
    id: fields.id ?? null,
    data: fields.data ? JSON.parse(fields.data) : null,
  };
}
