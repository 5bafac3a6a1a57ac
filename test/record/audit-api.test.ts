// GET /audit on the real wiring: filters, opaque cursor pages that neither skip nor repeat,
// CSV export (formula cells defused), and access for auditor/admin/superadmin only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { newApi, addToken, bearer } from "../api/support.ts";
import { appendAudit } from "../../record/audit.ts";

test("audit read: filters, cursor pagination, CSV, and who may read", async (t) => {
  const a = await newApi(t);
  // Rows from other areas (e.g. the token creations below) may be there too: filter by source.
  for (let i = 0; i < 25; i++) {
    await appendAudit(a.db, {
      actor: i % 2 === 0 ? "admin:root" : "system:operator",
      action: i % 5 === 0 ? "order_approved" : "order_processing",
      target: `order:o-${i % 3}`,
      order: `o-${i % 3}`,
      requestId: `req-${i}`,
      source: "test",
      data: { i, note: i === 7 ? '=HYPERLINK("http://evil")' : "plain, with comma" },
    });
  }
  const auditor = await addToken(a, "auditor", ["audit:read"]);
  const get = (qs: string, token = auditor) =>
    a.app.inject({ method: "GET", url: `/audit?${qs}`, headers: bearer(token) });

  // Pages of 10 over the 13 rows of admin:root, newest first, each row exactly once.
  const seen: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r = await get(
      `actor=${encodeURIComponent("admin:root")}&limit=10${cursor ? `&cursor=${cursor}` : ""}`,
    );
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json<{ items: { actor: string; data: { i: number } }[]; next: string | null }>();
    assert.ok(body.items.every((x) => x.actor === "admin:root"));
    seen.push(...body.items.map((x) => x.data.i));
    cursor = body.next;
    pages++;
  } while (cursor);
  assert.equal(pages, 2);
  assert.deepEqual(
    seen,
    Array.from({ length: 13 }, (_, k) => 24 - 2 * k),
  );

  const combined = await get("action=order_approved&order=o-0");
  assert.deepEqual(
    combined.json<{ items: { data: { i: number } }[] }>().items.map((x) => x.data.i),
    [15, 0],
  );
  const byTarget = await get(`target=${encodeURIComponent("order:o-1")}&limit=1000`);
  assert.equal(byTarget.json<{ items: unknown[] }>().items.length, 8);
  const all = await get("limit=1000&action=order_processing");
  const times = all.json<{ items: { at: string }[] }>().items.map((x) => x.at);
  const mid = times[5]!;
  const ranged = await get(`action=order_processing&to=${encodeURIComponent(mid)}&limit=1000`);
  assert.ok(ranged.json<{ items: { at: string }[] }>().items.every((x) => x.at < mid));

  const bad = await get("cursor=not-a-cursor");
  assert.equal(bad.statusCode, 400);
  assert.match(bad.body, /invalid cursor/);

  const csv = await get("format=csv&order=o-1");
  assert.equal(csv.statusCode, 200);
  assert.match(csv.headers["content-type"] as string, /text\/csv/);
  const lines = csv.body.trimEnd().split("\r\n");
  assert.equal(lines[0], "id,at,actor,action,target,order,request_id,source,data,hash");
  assert.equal(lines.length, 1 + 8);
  const row7 = lines.find((l) => l.includes("req-7"));
  assert.ok(row7?.includes(`"{""i"":7,""note"":""=HYPERLINK(\\""http://evil\\"")""}"`), row7);

  // A cell a spreadsheet would run as a formula is defused with a leading apostrophe.
  await appendAudit(a.db, {
    actor: "admin:root",
    action: "x_done",
    target: "=2+3",
    order: "o-9",
    source: "test",
  });
  const formula = await get("format=csv&order=o-9");
  assert.match(formula.body.split("\r\n")[1] ?? "", /,'=2\+3,o-9,/);

  for (const role of ["admin", "superadmin"] as const) {
    const tok = await addToken(a, role, ["audit:read"], `reader-${role}`);
    assert.equal((await get("limit=1", tok)).statusCode, 200, role);
  }
  for (const role of ["helpdesk", "approver"] as const) {
    const tok = await addToken(a, role, [], `nope-${role}`);
    assert.equal((await get("limit=1", tok)).statusCode, 403, role);
  }
  const anon = await a.app.inject({ method: "GET", url: "/audit" });
  assert.equal(anon.statusCode, 401);
});

test("a tampered cursor is a 400, never a 500", async (t) => {
  const a = await newApi(t);
  const auditor = await addToken(a, "auditor", ["audit:read"]);
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  // JavaScript's Date.parse accepts "1" and "Tue 1"; Postgres does not. A 20-digit id overflows bigint.
  for (const cursor of [
    enc(["1", "5"]),
    enc(["March 7", "5"]),
    enc(["2026-01-01T00:00:00.000Z", "99999999999999999999"]),
  ]) {
    const r = await a.app.inject({
      method: "GET",
      url: `/audit?cursor=${cursor}`,
      headers: bearer(auditor),
    });
    assert.equal(r.statusCode, 400, `${cursor}: ${r.body}`);
    const csv = await a.app.inject({
      method: "GET",
      url: `/audit?format=csv&cursor=${cursor}`,
      headers: bearer(auditor),
    });
    assert.equal(csv.statusCode, 400, `csv ${cursor}: ${csv.body}`);
  }
});
