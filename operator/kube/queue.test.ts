// The key queue: de-duplication, one handler per key at a time, re-run when dirtied while
// running, retry with backoff on failure, pause/resume.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeWorkQueue } from "./queue.ts";

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));
/** Polls until `cond` holds (2 s deadline): no fixed sleeps that a loaded machine can outrun. */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 2000; !cond(); await tick(2)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

test("a key added many times while queued is handled once", async () => {
  const seen: string[] = [];
  const q = makeWorkQueue({
    concurrency: 2,
    handler: async (k) => void seen.push(k),
    onError: () => undefined,
  });
  for (let i = 0; i < 5; i++) q.add("a");
  q.add("b");
  q.start();
  await until("both handled", () => seen.length >= 2);
  await tick(10);
  assert.deepEqual(seen.sort(), ["a", "b"]);
  await q.stop();
});

test("a key is never handled twice at once; added while running, it runs again after", async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  let release: () => void = () => undefined;
  const q = makeWorkQueue({
    concurrency: 4,
    handler: async () => {
      running++;
      runs++;
      maxRunning = Math.max(maxRunning, running);
      if (runs === 1) await new Promise<void>((r) => (release = r));
      running--;
    },
    onError: () => undefined,
  });
  q.start();
  q.add("k");
  await until("first run", () => runs === 1);
  q.add("k");
  q.add("k");
  await tick(10);
  assert.equal(runs, 1, "not started again while running");
  release();
  await until("second run", () => runs === 2 && running === 0);
  await tick(10);
  assert.equal(runs, 2, "dirty key re-run once");
  assert.equal(maxRunning, 1);
  await q.stop();
});

test("a failing key is retried with growing delays until it succeeds", async () => {
  const delays: number[] = [];
  let calls = 0;
  const q = makeWorkQueue({
    concurrency: 1,
    baseDelayMs: 2,
    handler: async () => {
      calls++;
      if (calls < 4) throw new Error("transient");
    },
    onError: (_k, _e, ms) => delays.push(ms),
  });
  q.start();
  q.add("k");
  await until("success", () => calls === 4);
  assert.deepEqual(delays, [4, 8, 16]);
  await q.stop();
});

test("paused, the queue keeps keys and hands them out on resume", async () => {
  const seen: string[] = [];
  const q = makeWorkQueue({
    concurrency: 1,
    handler: async (k) => void seen.push(k),
    onError: () => undefined,
  });
  q.add("a");
  await tick();
  assert.deepEqual(seen, [], "not started");
  q.start();
  await until("a", () => seen.length === 1);
  await q.pause();
  q.add("b");
  await tick(10);
  assert.deepEqual(seen, ["a"]);
  q.start();
  await until("b", () => seen.length === 2);
  assert.deepEqual(seen, ["a", "b"]);
  await q.stop();
});
