// The CSV export stream against a real Postgres: pulled page by page, and stopped when the
// reader goes away (no page is read ahead of the reader).
import { test } from "node:test";
import assert from "node:assert/strict";
import { finished } from "node:stream/promises";
import { newDatabase } from "../support/db.ts";
import { createPool, migrate, type Queryable } from "../../record/db.ts";
import { auditCsvStream } from "../../record/audit-query.ts";

test("audit CSV export: every row once, and a reader that leaves stops the export", async (t) => {
  const url = await newDatabase(t);
  await migrate(url);
  const db = createPool(url);
  t.after(() => db.end());
  await db.query(
    `SELECT audit_append('system:test', 'bulk_row', NULL, 'o-' || i, NULL, 'test', jsonb_build_object('i', i))
       FROM generate_series(1, 2500) AS i`,
  );
  let queries = 0;
  // The real pool, counting the pages read.
  const counted = {
    query: (text: string, values?: unknown[]) => {
      queries++;
      return db.query(text, values);
    },
  } as unknown as Queryable;

  let text = "";
  for await (const chunk of auditCsvStream(counted, {}, { pageSize: 100 })) text += String(chunk);
  assert.equal(text.trimEnd().split("\r\n").length, 1 + 2500);
  assert.equal(queries, 25);

  queries = 0;
  const s = auditCsvStream(counted, {}, { pageSize: 100 });
  for await (const chunk of s) {
    assert.ok(String(chunk).startsWith("id,at,actor"));
    break; // the client goes away after the first bytes
  }
  await finished(s).catch(() => undefined);
  assert.ok(queries <= 2, `read ${queries} pages for a reader that left after the header`);
});
