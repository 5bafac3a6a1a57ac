import { test } from "node:test";
import assert from "node:assert/strict";
import { createSseParser } from "./sse.ts";

const STREAM =
  ': following\n\nid: j:1\nevent: line\ndata: {"seq":1}\n\n: keep-alive\n\nevent: reset\ndata: {"reason":"SlowClient"}\n\n';

test("events come out whole however the stream is cut", () => {
  const want = [
    { event: "line", data: '{"seq":1}', id: "j:1" },
    { event: "reset", data: '{"reason":"SlowClient"}', id: "j:1" },
  ];
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const p = createSseParser();
    const got = [...p.push(STREAM.slice(0, cut)), ...p.push(STREAM.slice(cut))];
    assert.deepEqual(got, want, `cut at ${cut}`);
  }
  // One character at a time.
  const p = createSseParser();
  assert.deepEqual(
    [...STREAM].flatMap((c) => p.push(c)),
    want,
  );
});

test("CRLF and CR line ends, multi-line data, default event name, comments only", () => {
  const p = createSseParser();
  assert.deepEqual(p.push("data: a\r\ndata: b\r\n\r\n"), [{ event: "message", data: "a\nb" }]);
  assert.deepEqual(p.push("event: line\rdata:x\r"), []);
  assert.deepEqual(p.push("\rignored"), [{ event: "line", data: "x" }]);
  assert.deepEqual(createSseParser().push(": only a comment\n\n"), []);
});
