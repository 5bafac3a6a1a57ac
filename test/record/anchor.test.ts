// Audit anchors against the real API server and a private Postgres: the chain head copied into
// a ConfigMap catches what the chain alone cannot, a superuser who rewrites a row and recomputes
// every hash after it (and the head). verify-audit without anchors says "intact"; with the
// anchors from the cluster it names the row and exits 1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { newDatabase } from "../support/db.ts";
import { newNamespace, testKubeConfig } from "../support/kube.ts";
import { testEnv } from "../support/env.ts";
import { createPool, migrate } from "../../record/db.ts";
import { appendAudit, verifyStoredChain } from "../../record/audit.ts";
import {
  ANCHOR_CONFIGMAP,
  appendAnchor,
  checkAnchors,
  parseAnchors,
  readAnchorConfigMap,
  writeAnchor,
} from "../../record/anchor.ts";

const run = promisify(execFile);

async function verify(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run("node", ["record/verify-audit.ts", ...args]).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

/** What a superuser can do: change a row, then recompute every later link and the head. */
const REWRITE_CHAIN = `
  ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
  UPDATE audit_events SET data = '{"forged": true}' WHERE id = 2;
  DO $$
  DECLARE r record; prev text := repeat('0', 64); h text;
  BEGIN
    FOR r IN SELECT * FROM audit_events ORDER BY id LOOP
      h := encode(sha256(convert_to(audit_canonical(r.id, r.at, r.actor, r.action, r.target,
        r.order_name, r.request_id, r.source, r.data, prev), 'UTF8')), 'hex');
      UPDATE audit_events SET prev_hash = prev, hash = h WHERE id = r.id;
      prev := h;
    END LOOP;
    UPDATE audit_chain_head SET last_hash = prev WHERE singleton;
  END $$;
  ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;`;

test("a consistent rewrite of the whole chain passes the chain check but not the anchors", async (t) => {
  const ns = await newNamespace(t);
  const url = await newDatabase(t);
  await migrate(url);
  const db = createPool(url);
  t.after(() => db.end());
  const kc = testKubeConfig();
  const now = () => new Date("2026-03-02T09:00:00Z");

  // An empty log has nothing to anchor.
  assert.equal(await writeAnchor({ db, kc, namespace: ns, now }), undefined);
  for (let i = 0; i < 3; i++)
    await appendAudit(db, {
      actor: "system:operator",
      action: "order_scheduled",
      order: `o-${i}`,
      source: "operator",
    });
  const first = await writeAnchor({ db, kc, namespace: ns, now });
  assert.equal(first?.id, "3");
  // The head did not move: no new anchor.
  assert.equal(await writeAnchor({ db, kc, namespace: ns, now }), undefined);
  await appendAudit(db, { actor: "system:api", action: "x_happened", source: "api" });
  assert.equal((await writeAnchor({ db, kc, namespace: ns, now }))?.id, "4");
  assert.deepEqual(
    (await readAnchorConfigMap(kc, ns)).map((a) => a.id),
    ["3", "4"],
  );

  const anchored = [
    "--database-url",
    url,
    "--anchors-configmap",
    `${ns}/${ANCHOR_CONFIGMAP}`,
    "--kubeconfig",
    testEnv().kubeconfig,
  ];
  const before = await verify(anchored);
  assert.equal(before.code, 0, before.stderr);
  assert.match(before.stdout, /intact: 4 rows, head 4 [0-9a-f]{64}; 2 anchors match/);

  await db.query(REWRITE_CHAIN);
  assert.equal((await verifyStoredChain(db)).ok, true, "the rewritten chain is self-consistent");
  const plain = await verify(["--database-url", url]);
  assert.equal(plain.code, 0, "without anchors the rewrite goes unnoticed");
  const after = await verify(anchored);
  assert.equal(after.code, 1, after.stdout + after.stderr);
  assert.match(
    after.stdout,
    /anchor mismatch: audit row 3 differs from its anchor of 2026-03-02T09:00:00.000Z/,
  );

  // Anchors kept elsewhere (e.g. taken from the operator's log) work the same.
  const file = `/tmp/ipsolis-anchors-${ns}.jsonl`;
  const cm = await kc
    .makeApiClient(k8s.CoreV1Api)
    .readNamespacedConfigMap({ namespace: ns, name: ANCHOR_CONFIGMAP });
  await import("node:fs/promises").then((fs) => fs.writeFile(file, cm.data?.["anchors.jsonl"] ?? ""));
  t.after(() => import("node:fs/promises").then((fs) => fs.rm(file, { force: true })));
  assert.equal((await verify(["--database-url", url, "--anchors-file", file])).code, 1);

  // Unreadable anchors are exit 2, never "intact".
  const missing = await verify([
    "--database-url",
    url,
    "--anchors-configmap",
    `${ns}/nope`,
    "--kubeconfig",
    testEnv().kubeconfig,
  ]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read the audit anchors/);
  const bad = await verify(["--database-url", url, "--anchors-configmap", "no-slash"]);
  assert.equal(bad.code, 2);
});

test("anchors: parsing refuses edited lines, appending skips an unmoved head and keeps the newest", () => {
  const h = (c: string) => c.repeat(64);
  assert.deepEqual(parseAnchors(`{"id":"1","hash":"${h("a")}","at":"t"}\n\n`), [
    { id: "1", hash: h("a"), at: "t" },
  ]);
  assert.throws(() => parseAnchors("not json"), /line 1 is not JSON/);
  assert.throws(() => parseAnchors(`{"id":"x","hash":"${h("a")}","at":"t"}`), /line 1 is not/);
  const a = [{ id: "1", hash: h("a"), at: "t1" }];
  assert.equal(appendAnchor(a, { id: "1", hash: h("a"), at: "t2" }, 10), undefined);
  assert.equal(appendAnchor([], { id: "0", hash: h("0"), at: "t" }, 10), undefined);
  assert.deepEqual(
    appendAnchor(a, { id: "2", hash: h("b"), at: "t2" }, 1)?.map((x) => x.id),
    ["2"],
  );
  const stored = new Map([
    ["1", h("a")],
    ["2", h("c")],
  ]);
  assert.deepEqual(checkAnchors(a, stored), { ok: true, checked: 1 });
  const gone = checkAnchors([{ id: "9", hash: h("a"), at: "t" }], stored);
  assert.ok(!gone.ok && /audit row 9, anchored at t, is gone/.test(gone.message));
  const changed = checkAnchors([...a, { id: "2", hash: h("b"), at: "t2" }], stored);
  assert.ok(!changed.ok && changed.anchor.id === "2");
});
