// Runbook CRD against the real API server: defaults (shell pwsh, timeoutSeconds 300, retries 0,
// retryDelaySeconds 5, critical true, timeZone Europe/Berlin, keytab keys) and each refusal.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import type { Runbook } from "../../crds/generated/index.ts";
import { applyCrds } from "../support/crds.ts";
import { newNamespace } from "../support/kube.ts";
import { create, refusal, validRunbook } from "./fixtures.ts";

before(async () => {
  await applyCrds();
});

test("a valid Runbook is accepted with every default applied", async (t) => {
  const ns = await newNamespace(t);
  const got = await create(ns, "runbooks", validRunbook());
  const [first, second] = got.spec.steps;
  assert.deepEqual(
    {
      shell: first?.shell,
      timeoutSeconds: first?.timeoutSeconds,
      retries: first?.retries,
      retryDelaySeconds: first?.retryDelaySeconds,
      critical: first?.critical,
    },
    { shell: "pwsh", timeoutSeconds: 300, retries: 0, retryDelaySeconds: 5, critical: true },
  );
  assert.equal(second?.shell, "bash");
  assert.equal(got.spec.schedule?.timeZone, "Europe/Berlin");
  assert.equal(got.spec.kerberos?.keytabKey, "keytab");
  assert.equal(got.spec.kerberos?.krb5ConfKey, "krb5.conf");
});

test("cron macros and explicit time zones are accepted", async (t) => {
  const ns = await newNamespace(t);
  for (const [i, cron] of ["@daily", "*/15 8-18 * * MON-FRI", "0 0 1 * *"].entries()) {
    const rb = validRunbook(`rb-${i}`);
    rb.spec.schedule = { cron, timeZone: "America/Argentina/Buenos_Aires", suspend: true };
    await create(ns, "runbooks", rb);
  }
});

const step0 = (r: Runbook) => {
  const s = r.spec.steps[0];
  if (!s) throw new Error("fixture has a first step");
  return s;
};

const bad: { name: string; change: (r: Runbook) => void; want: RegExp }[] = [
  {
    name: "no steps",
    change: (r) => (r.spec.steps = []),
    want: /spec\.steps: Invalid value: 0: spec\.steps in body should have at least 1 items/,
  },
  {
    name: "missing image",
    change: (r) => delete (r.spec as Partial<Runbook["spec"]>).image,
    want: /spec\.image: Required value/,
  },
  {
    name: "script and scriptFrom together",
    change: (r) => (step0(r).scriptFrom = { configMapKeyRef: { name: "c", key: "k" } }),
    want: /spec\.steps\[0\]: Invalid value: exactly one of script and scriptFrom must be set/,
  },
  {
    name: "neither script nor scriptFrom",
    change: (r) => delete step0(r).script,
    want: /spec\.steps\[0\]: Invalid value: exactly one of script and scriptFrom must be set/,
  },
  {
    name: "parameter with value and valueFrom",
    change: (r) =>
      (step0(r).parameters = [
        { name: "X", value: "1", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
      ]),
    want: /spec\.steps\[0\]\.parameters\[0\]: Invalid value: exactly one of value and valueFrom must be set/,
  },
  {
    name: "parameter with neither value nor valueFrom",
    change: (r) => (step0(r).parameters = [{ name: "X" }]),
    want: /exactly one of value and valueFrom must be set/,
  },
  {
    name: "duplicate step names",
    change: (r) => (r.spec.steps = [step0(r), { ...step0(r) }]),
    want: /spec\.steps\[1\]: Duplicate value: \{"name":"add-member"\}/,
  },
  {
    name: "step name not a DNS label",
    change: (r) => (step0(r).name = "Add Member"),
    want: /spec\.steps\[0\]\.name in body should match/,
  },
  {
    name: "unknown shell",
    change: (r) => (step0(r).shell = "cmd" as "bash"),
    want: /spec\.steps\[0\]\.shell: Unsupported value: "cmd": supported values: "pwsh", "bash"/,
  },
  {
    name: "timeout of zero",
    change: (r) => (step0(r).timeoutSeconds = 0),
    want: /spec\.steps\[0\]\.timeoutSeconds in body should be greater than or equal to 1/,
  },
  {
    name: "eleven retries",
    change: (r) => (step0(r).retries = 11),
    want: /spec\.steps\[0\]\.retries in body should be less than or equal to 10/,
  },
  {
    name: "parameter name not an env var name",
    change: (r) => (step0(r).parameters = [{ name: "GROUP-NAME", value: "x" }]),
    want: /spec\.steps\[0\]\.parameters\[0\]\.name in body should match/,
  },
  {
    name: "cron with six fields",
    change: (r) => (r.spec.schedule = { cron: "0 0 2 * * *" }),
    want: /spec\.schedule\.cron in body should match/,
  },
  {
    name: "cron with a time zone inside",
    change: (r) => (r.spec.schedule = { cron: "CRON_TZ=UTC 0 2 * * *" }),
    want: /spec\.schedule\.cron in body should match/,
  },
  {
    name: "time zone that is not an IANA name",
    change: (r) => (r.spec.schedule = { cron: "@daily", timeZone: "UTC+1 hour" }),
    want: /spec\.schedule\.timeZone in body should match/,
  },
  {
    name: "principal without a realm",
    change: (r) => (r.spec.kerberos = { secretName: "kt", principal: "svc-ipsolis" }),
    want: /spec\.kerberos\.principal in body should match/,
  },
];

for (const c of bad) {
  test(`Runbook refused: ${c.name}`, async (t) => {
    const ns = await newNamespace(t);
    const r = validRunbook();
    c.change(r);
    assert.match(await refusal(create(ns, "runbooks", r)), c.want);
  });
}
