// The mover event's record (migration 0204): one pending event per person, merges bump the
// version, and only the run holding the lease finishes it; a run whose lease was taken over, or
// that read an older version, changes nothing. Real Postgres.
import { test } from "node:test";
import assert from "node:assert/strict";
import { newDatabase } from "../support/db.ts";
import { createPool, migrate } from "../../record/db.ts";
import { createEmployee } from "../../record/employees/store.ts";
import {
  claimMover,
  dueMovers,
  finishMover,
  getMover,
  insertMover,
  pendingMoverFor,
  updateMoverChanges,
} from "../../record/movers/store.ts";

const LEASE = 60_000;

test("mover events: one pending per person, a stale lease or an old version never finishes it", async (t) => {
  const url = await newDatabase(t);
  await migrate(url);
  const db = createPool(url);
  t.after(() => db.end());
  const t0 = new Date("2026-12-07T10:00:00Z");
  const emp = await createEmployee(
    db,
    {
      userName: "ann@example.com",
      externalId: null,
      employeeNumber: null,
      displayName: null,
      emails: ["ann@example.com"],
      active: true,
      department: "Sales",
      costCenter: null,
      manager: null,
    },
    { userName: "ann@example.com" },
    t0,
  );
  const ev = await insertMover(db, {
    employeeId: emp.id,
    changes: { department: { from: "Sales", to: "Finance" } },
    source: "scim",
    actor: "token:entra",
    now: t0,
  });
  // A second pending event for the same person is refused by the unique index.
  await assert.rejects(
    insertMover(db, { employeeId: emp.id, changes: {}, source: "scim", actor: "x", now: t0 }),
  );
  assert.equal((await pendingMoverFor(db, emp.id))?.id, ev.id);
  assert.deepEqual(await dueMovers(db, t0, LEASE), [ev.id]);

  // Run A claims; while its lease holds nobody else can.
  const a = await claimMover(db, ev.id, t0, LEASE);
  assert.ok(a?.claimedAt);
  assert.equal(await claimMover(db, ev.id, new Date(t0.getTime() + 1000), LEASE), undefined);
  assert.deepEqual(await dueMovers(db, new Date(t0.getTime() + 1000), LEASE), []);
  // A outlives its lease; run B takes the event over.
  const late = new Date(t0.getTime() + LEASE + 1000);
  const b = await claimMover(db, ev.id, late, LEASE);
  assert.ok(b?.claimedAt);
  const done = { done: true, result: {}, nextAt: late, now: late };
  // A finishing now changes nothing (not processed, still B's).
  assert.equal(await finishMover(db, ev.id, a.version, a.claimedAt, done), false);
  assert.equal((await getMover(db, ev.id))?.state, "pending");
  assert.equal((await getMover(db, ev.id))?.claimedAt?.getTime(), b.claimedAt.getTime());
  // A newer change arrives while B works: B's finish leaves it pending and due now.
  await updateMoverChanges(db, ev.id, { department: { from: "Sales", to: "Legal" } }, late);
  assert.equal(await finishMover(db, ev.id, b.version, b.claimedAt, done), false);
  const again = await getMover(db, ev.id);
  assert.deepEqual([again?.state, again?.version, again?.claimedAt], ["pending", 2, null]);
  // C reads version 2 and finishes it.
  const c = await claimMover(db, ev.id, late, LEASE);
  assert.equal(c?.version, 2);
  assert.equal(await finishMover(db, ev.id, c.version, c.claimedAt!, done), true);
  assert.equal((await getMover(db, ev.id))?.state, "processed");
  // Finishing a processed event again does nothing; a new change starts a new event.
  assert.equal(await finishMover(db, ev.id, c.version, c.claimedAt!, done), false);
  assert.equal(await pendingMoverFor(db, emp.id), undefined);
});
