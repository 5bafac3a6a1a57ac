// A server-sent events parser (pure, incremental): the API's live log (`GET /orders/:name/log?
// follow=true`) sends `event: line` with a JSON line, `event: reset` when the follower must
// reconnect, and `:` comments as heartbeats. Chunks may split anywhere, lines end in LF, CRLF
// or CR (WHATWG HTML, "Interpreting an event stream").

export type SseEvent = { event: string; data: string; id?: string };

export type SseParser = {
  /** Feeds a decoded chunk; returns the events it completed. */
  push(chunk: string): SseEvent[];
};

export function createSseParser(): SseParser {
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  const dispatch = (out: SseEvent[]) => {
    if (data.length > 0)
      out.push({ event: event || "message", data: data.join("\n"), ...(id ? { id } : {}) });
    event = "";
    data = [];
  };
  return {
    push(chunk) {
      buffer += chunk;
      const out: SseEvent[] = [];
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buffer);
        // A lone CR at the end may be the first half of CRLF: wait for the next chunk.
        if (!m || (m[0] === "\r" && m.index === buffer.length - 1)) break;
        const line = buffer.slice(0, m.index);
        buffer = buffer.slice(m.index + m[0].length);
        if (line === "") {
          dispatch(out);
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id" && !value.includes("\0")) id = value;
      }
      return out;
    },
  };
}
