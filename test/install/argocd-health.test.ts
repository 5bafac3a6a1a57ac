// The Argo CD health checks (manifests/argocd/health, in argocd-cm's resource.customizations
// format) run by a real Lua 5.4 interpreter (Debian's lua5.4, ADR 0009) against sample objects:
// Progressing while processing, Healthy when Ready, Degraded with the condition's message.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { argocdCmPath, healthScript, renderArgocdCm, type healthKinds } from "./gen-manifests.ts";
import { run } from "./support.ts";

// Debian's lua5.4 (as the postgres support installs postgresql): once, when missing.
before(async () => {
  const has = await run("bash", ["-c", "command -v lua5.4"]);
  if (has.code === 0) return;
  const got = await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "lua5.4"]);
  if (got.code !== 0) throw new Error(`lua5.4 is needed: apt-get install lua5.4 failed: ${got.stderr}`);
});

/** A JSON value as a Lua table constructor. */
function lua(v: unknown): string {
  if (v === null || v === undefined) return "nil";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `{${v.map(lua).join(",")}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `[${JSON.stringify(k)}]=${lua(x)}`)
    .join(",")}}`;
}

async function health(
  kind: keyof typeof healthKinds,
  obj: unknown,
): Promise<{ status: string; message: string }> {
  const script = await healthScript(kind);
  const program = `obj = ${lua(obj)}\nlocal hs = (function()\n${script}\nend)()\nio.write(hs.status, "\\t", hs.message or "")\n`;
  const r = await run("lua5.4", ["-"], { input: program });
  if (r.code !== 0) throw new Error(`lua5.4 failed (apt-get install lua5.4): ${r.stderr}`);
  const [status = "", message = ""] = r.stdout.split("\t");
  return { status, message };
}

const cond = (status: string, reason: string, message: string) => ({
  metadata: { generation: 2 },
  status: {
    observedGeneration: 2,
    conditions: [{ type: "Ready", status, reason, message, observedGeneration: 2 }],
  },
});
const order = (phase: string, status: string, reason: string, message: string) => {
  const o = cond(status, reason, message);
  return { ...o, status: { ...o.status, phase } };
};

test("Order: Progressing, Suspended awaiting approval, Healthy when Provisioned, Degraded with the message", async () => {
  assert.deepEqual(await health("Order", { metadata: { generation: 1 } }), {
    status: "Progressing",
    message: "Waiting for the operator to reconcile the order",
  });
  assert.equal(
    (await health("Order", order("Processing", "False", "Processing", "Step 1 of 2"))).status,
    "Progressing",
  );
  assert.equal(
    (await health("Order", order("PendingApproval", "False", "AwaitingApproval", "Waiting for ann"))).status,
    "Suspended",
  );
  assert.deepEqual(await health("Order", order("Provisioned", "True", "Provisioned", "VPN delivered")), {
    status: "Healthy",
    message: "VPN delivered",
  });
  assert.deepEqual(await health("Order", order("Failed", "False", "Failed", "step add failed: exit 3")), {
    status: "Degraded",
    message: "step add failed: exit 3",
  });
  const stale = order("Provisioned", "True", "Provisioned", "old");
  stale.metadata.generation = 3;
  assert.equal((await health("Order", stale)).status, "Progressing", "a spec the operator has not seen yet");
});

test("AssetType, Runbook, Asset: Healthy when Ready, Degraded with the reason's message, Progressing else", async () => {
  for (const kind of ["AssetType", "Runbook", "Asset"] as const) {
    assert.equal((await health(kind, {})).status, "Progressing", kind);
    assert.equal((await health(kind, cond("True", "Valid", "ok"))).status, "Healthy", kind);
  }
  assert.deepEqual(await health("Runbook", cond("False", "SecretNotFound", "Secret m365 not found")), {
    status: "Degraded",
    message: "Secret m365 not found",
  });
  assert.deepEqual(
    await health("AssetType", cond("False", "RunbookNotFound", "Runbook vpn-grant not found")),
    {
      status: "Degraded",
      message: "Runbook vpn-grant not found",
    },
  );
  assert.equal((await health("Asset", cond("False", "Pending", "being delivered"))).status, "Progressing");
});

test("argocd-cm.yaml holds exactly these scripts under resource.customizations.health.ipsolis.io_<Kind>", async () => {
  const text = await readFile(argocdCmPath, "utf8");
  assert.equal(text, await renderArgocdCm(), "regenerate: node test/install/gen-manifests.ts");
  const cm = parse(text) as { data: Record<string, string> };
  for (const kind of ["Order", "AssetType", "Runbook", "Asset"] as const) {
    assert.equal(cm.data[`resource.customizations.health.ipsolis.io_${kind}`], await healthScript(kind));
  }
});
