// Asset CRD: one object per pool slot, so allocating a slot is a create that either wins or
// gets 409 AlreadyExists (ADR 0005); the spec is immutable.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import type { Asset } from "../../crds/generated/index.ts";
import { applyCrds } from "../support/crds.ts";
import { newNamespace } from "../support/kube.ts";
import { create, refusal, update } from "./fixtures.ts";

before(async () => {
  await applyCrds();
});

const slot = (n: number, order: string): Asset => ({
  apiVersion: "ipsolis.io/v1alpha1",
  kind: "Asset",
  metadata: { name: `m365-e3-${n}` },
  spec: { assetType: "m365-e3", slot: n, order, requesterId: order.toUpperCase() },
});

test("two Orders racing for one slot: exactly one create wins, the other gets 409", async (t) => {
  const ns = await newNamespace(t);
  const results = await Promise.allSettled([
    create(ns, "assets", slot(0, "o1")),
    create(ns, "assets", slot(0, "o2")),
  ]);
  const won = results.filter((r) => r.status === "fulfilled");
  const lost = results.filter((r) => r.status === "rejected");
  assert.equal(won.length, 1);
  assert.equal(lost.length, 1);
  const err = (lost[0] as PromiseRejectedResult).reason as unknown;
  assert.ok(err instanceof k8s.ApiException && err.code === 409);
  assert.match(String(err.body), /AlreadyExists/);
});

test("an Asset's spec is immutable", async (t) => {
  const ns = await newNamespace(t);
  await create(ns, "assets", slot(1, "o1"));
  assert.match(
    await refusal(update<Asset>(ns, "assets", "m365-e3-1", (a) => (a.spec.order = "o9"))),
    /an Asset.s spec is immutable \(delete it to return the slot\)/,
  );
  assert.match(
    await refusal(
      create(ns, "assets", {
        ...slot(2, "o1"),
        spec: { assetType: "m365-e3", order: "o1" } as Asset["spec"],
      }),
    ),
    /spec\.requesterId: Required value/,
  );
});
