// The LISTEN connection behind `…/log?follow=true` across a Postgres restart: batches committed
// while it was reconnecting (their NOTIFY went nowhere) still reach the followers.
import { test } from "node:test";
import pg from "pg";
import { pino } from "pino";
import { eventually } from "../support/kube.ts";
import { createPool, migrate } from "../../record/db.ts";
import { createLogListener } from "../../record/log-listener.ts";
import { readOrderLog, storeLines, type StepOutputNotice } from "../../record/step-output.ts";
import { startRestartablePostgres } from "./private-postgres.ts";

test("a follower misses no committed batch across a Postgres restart", async (t) => {
  const pgsrv = await startRestartablePostgres();
  t.after(() => pgsrv.destroy());
  const admin = new pg.Client({ connectionString: pgsrv.adminUrl });
  await admin.connect();
  await admin.query("CREATE DATABASE record");
  await admin.end();
  const url = pgsrv.urlFor("record");
  await migrate(url);
  const listenDb = createPool(url, { max: 2 });
  const writeDb = createPool(url, { max: 2 });
  t.after(() => Promise.all([listenDb.end(), writeDb.end()]));
  const listener = createLogListener(listenDb, pino({ level: "silent" }));
  t.after(() => listener.close());

  const who = { namespace: "ns", order: "o-1", job: "o-1-1" };
  const line = (seq: number) => ({
    ts: new Date(Date.UTC(2026, 2, 1, 10, 0, 0, seq)).toISOString(),
    seq,
    kind: "line" as const,
    step: "s",
    attempt: 1,
    stream: "stdout" as const,
    text: `line ${seq}`,
  });
  // What the follow route does with each notice: read the rows it names.
  const seen = new Set<number>();
  await listener.subscribe("ns", "o-1", (n: StepOutputNotice) => {
    void readOrderLog(writeDb, "ns", "o-1", {
      job: n.job || undefined,
      minSeq: n.minSeq,
      maxSeq: n.maxSeq,
    }).then(
      (ls) => ls.forEach((l) => seen.add(l.seq)),
      () => undefined,
    );
  });
  await storeLines(writeDb, who, [line(0)]);
  await eventually("the first batch", async () => (seen.has(0) ? true : undefined));

  await pgsrv.stop();
  await pgsrv.start();
  // The runner's retries land as soon as Postgres is back, before the listener re-LISTENs.
  await eventually("a write after the restart", async () =>
    (await storeLines(writeDb, who, [line(1)])).inserted === 1 ? true : undefined,
  );
  await eventually("the batch committed during the reconnect to reach the follower", async () =>
    seen.has(1) ? true : undefined,
  );
});
