import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkApproval,
  checkDelegation,
  checkLinkMint,
  isSamePerson,
  type ApprovalInput,
  type DelegationInput,
} from "./approvals.ts";

const now = new Date("2026-11-25T10:00:00Z");
const base = (over: Partial<ApprovalInput> = {}): ApprovalInput => ({
  approver: { username: "bert", email: "bert@corp.example" },
  decision: "Approved",
  order: {
    phase: "PendingApproval",
    requesterEmail: "emp@corp.example",
    manager: "mgr@corp.example",
    approvals: [],
  },
  policy: { kind: "Approvers", approvers: ["bert@corp.example", "carl"] },
  delegations: [],
  assetTypeChanges: [],
  now,
  ...over,
});
const row = (actor: string) => ({ id: "7", action: "asset_type_updated", actor, at: now });

const cases: { name: string; given: ApprovalInput; want: string }[] = [
  { name: "listed by e-mail → ok", given: base(), want: "ok" },
  {
    name: "changed under the account's username (an alias) → SeparationOfDuties",
    given: base({
      approver: { email: "bert@corp.example", aliases: ["bsmith", "bert@corp.example"] },
      assetTypeChanges: [row("admin:bsmith")],
    }),
    want: "SeparationOfDuties",
  },
  {
    name: "link issued by the asset type's author → SeparationOfDuties",
    given: base({ issuer: { actor: "admin:ann", username: "ann" }, assetTypeChanges: [row("admin:ann")] }),
    want: "SeparationOfDuties",
  },
  {
    name: "link issued by someone who changed nothing → ok",
    given: base({ issuer: { actor: "admin:root", username: "root" }, assetTypeChanges: [row("admin:ann")] }),
    want: "ok",
  },
  {
    name: "declining through the author's link → ok",
    given: base({
      decision: "Declined",
      issuer: { actor: "admin:ann", username: "ann" },
      assetTypeChanges: [row("admin:ann")],
    }),
    want: "ok",
  },
  {
    name: "not pending → NotPending",
    given: base({ order: { ...base().order, phase: "Processing" } }),
    want: "NotPending",
  },
  { name: "not listed → NotApprover", given: base({ approver: { username: "zed" } }), want: "NotApprover" },
  {
    name: "manager policy: the manager → ok",
    given: base({ approver: { email: "mgr@corp.example" }, policy: { kind: "Manager", approvers: [] } }),
    want: "ok",
  },
  {
    name: "policy None → NotApprover",
    given: base({ policy: { kind: "None", approvers: [] } }),
    want: "NotApprover",
  },
  {
    name: "already decided → AlreadyDecided",
    given: base({ order: { ...base().order, approvals: [{ approver: "BERT@corp.example" }] } }),
    want: "AlreadyDecided",
  },
  {
    name: "SoD by admin username",
    given: base({ assetTypeChanges: [row("admin:bert")] }),
    want: "SeparationOfDuties",
  },
  {
    name: "SoD by e-mail",
    given: base({ assetTypeChanges: [row("user:bert@corp.example")] }),
    want: "SeparationOfDuties",
  },
  {
    name: "SoD by e-mail local part",
    given: base({ approver: { email: "bert@corp.example" }, assetTypeChanges: [row("admin:bert")] }),
    want: "SeparationOfDuties",
  },
  { name: "someone else's change → ok", given: base({ assetTypeChanges: [row("admin:ada")] }), want: "ok" },
  {
    name: "declining despite SoD → ok",
    given: base({ decision: "Declined", assetTypeChanges: [row("admin:bert")] }),
    want: "ok",
  },
  {
    name: "own order → SelfApproval",
    given: base({ order: { ...base().order, requesterEmail: "bert@corp.example" } }),
    want: "SelfApproval",
  },
  {
    name: "deputy inside the window → ok",
    given: base({
      approver: { username: "zed" },
      delegations: [
        {
          principal: "carl",
          deputy: "zed",
          startsAt: new Date(now.getTime() - 1),
          endsAt: new Date(now.getTime() + 1),
        },
      ],
    }),
    want: "ok",
  },
  {
    name: "deputy after the window → NotApprover",
    given: base({
      approver: { username: "zed" },
      delegations: [
        { principal: "carl", deputy: "zed", startsAt: new Date(now.getTime() - 10), endsAt: now },
      ],
    }),
    want: "NotApprover",
  },
  // ---- eligibility is exact (no e-mail local parts) ----
  {
    name: "a namesake at another domain is not the listed username → NotApprover",
    given: base({ approver: { email: "carl@other.example" } }),
    want: "NotApprover",
  },
  {
    name: "a namesake at another domain is not the listed e-mail → NotApprover",
    given: base({ approver: { username: "bert2", email: "bert@other.example" } }),
    want: "NotApprover",
  },
  {
    name: "the listed e-mail's local part as a username is not the listed e-mail → NotApprover",
    given: base({ approver: { username: "bert" } }),
    want: "NotApprover",
  },
  {
    name: "the listed username, known to the directory under an e-mail (alias) → ok",
    given: base({ approver: { email: "carl@corp.example", aliases: ["carl", "carl@corp.example"] } }),
    want: "ok",
  },
  {
    name: "manager policy: the manager's local part is not the manager → NotApprover",
    given: base({ approver: { username: "mgr" }, policy: { kind: "Manager", approvers: [] } }),
    want: "NotApprover",
  },
  {
    name: "manager policy: a namesake at another domain → NotApprover",
    given: base({ approver: { email: "mgr@other.example" }, policy: { kind: "Manager", approvers: [] } }),
    want: "NotApprover",
  },
  {
    name: "deputy of a namesake principal (local part only) → NotApprover",
    given: base({
      approver: { username: "zed" },
      delegations: [
        {
          principal: "carl@other.example",
          deputy: "zed",
          startsAt: now,
          endsAt: new Date(now.getTime() + 1),
        },
      ],
    }),
    want: "NotApprover",
  },
  {
    name: "deputy of the principal's account (principal by e-mail, listed by username) → ok",
    given: base({
      approver: { username: "zed" },
      delegations: [
        {
          principal: "carl@corp.example",
          principalAliases: ["carl", "carl@corp.example"],
          deputy: "zed",
          startsAt: now,
          endsAt: new Date(now.getTime() + 1),
        },
      ],
    }),
    want: "ok",
  },
  {
    name: "a deputy named like the deputy's local part is not the deputy → NotApprover",
    given: base({
      approver: { email: "zed@other.example" },
      delegations: [{ principal: "carl", deputy: "zed", startsAt: now, endsAt: new Date(now.getTime() + 1) }],
    }),
    want: "NotApprover",
  },
  {
    name: "listed by username and by e-mail, decided under one → AlreadyDecided",
    given: base({
      policy: { kind: "Approvers", approvers: ["bert@corp.example", "bert"] },
      approver: { username: "bert", email: "bert@corp.example" },
      order: { ...base().order, approvals: [{ approver: "bert" }] },
    }),
    want: "AlreadyDecided",
  },
  // ---- separation of duties through API tokens ----
  {
    name: "changed through a token on the approver's behalf → SeparationOfDuties",
    given: base({ assetTypeChanges: [{ ...row("token:ci"), onBehalfOf: "admin:bert" }] }),
    want: "SeparationOfDuties",
  },
  {
    name: "changed through someone else's token → ok",
    given: base({ assetTypeChanges: [{ ...row("token:ci"), onBehalfOf: "admin:ada" }] }),
    want: "ok",
  },
  {
    name: "approving with a token whose creator changed the type → SeparationOfDuties",
    given: base({
      approver: { username: "bert@corp.example", onBehalfOf: { username: "ada", email: "ada@corp.example" } },
      assetTypeChanges: [row("admin:ada")],
    }),
    want: "SeparationOfDuties",
  },
  {
    name: "approving with a token whose creator changed the type through another token → SeparationOfDuties",
    given: base({
      approver: { username: "bert@corp.example", onBehalfOf: { username: "ada" } },
      assetTypeChanges: [{ ...row("token:deploy"), onBehalfOf: "admin:ada" }],
    }),
    want: "SeparationOfDuties",
  },
  {
    name: "approving with a token created by the requester → SelfApproval",
    given: base({
      approver: { username: "bert@corp.example", onBehalfOf: { email: "emp@corp.example" } },
    }),
    want: "SelfApproval",
  },
  {
    name: "link issued by the requester for someone else → SelfApproval",
    given: base({ issuer: { actor: "admin:emp", email: "emp@corp.example" } }),
    want: "SelfApproval",
  },
  {
    name: "link issued through a token of the requester → SelfApproval",
    given: base({
      issuer: { actor: "token:bot", username: "bot", onBehalfOf: { email: "emp@corp.example" } },
    }),
    want: "SelfApproval",
  },
  {
    name: "link issued through a token whose creator changed the type → SeparationOfDuties",
    given: base({
      issuer: { actor: "token:mailer", username: "mailer", onBehalfOf: { username: "ada" } },
      assetTypeChanges: [row("admin:ada")],
    }),
    want: "SeparationOfDuties",
  },
];
for (const c of cases) {
  test(c.name, () => {
    const d = checkApproval(c.given);
    assert.equal(d.ok ? "ok" : d.reason, c.want);
  });
}

test("a deputy's decision counts for the listed approver", () => {
  const d = checkApproval(
    base({
      approver: { username: "zed" },
      delegations: [{ principal: "carl", deputy: "zed", startsAt: now, endsAt: new Date(now.getTime() + 1) }],
    }),
  );
  assert.deepEqual(d, { ok: true, approverKey: "carl", viaDeputy: true });
});

test("isSamePerson matches token, admin and user actors", () => {
  assert.ok(isSamePerson("token:bert", { username: "bert" }));
  assert.ok(isSamePerson("user:bert@x.example", { username: "bert" }));
  assert.ok(!isSamePerson("admin:bertram", { username: "bert" }));
});

test("the SoD refusal names the person behind a token row", () => {
  const d = checkApproval(base({ assetTypeChanges: [{ ...row("token:ci"), onBehalfOf: "admin:bert" }] }));
  assert.equal(d.ok, false);
  assert.match(d.ok ? "" : d.message, /by token:ci on behalf of admin:bert/);
});

test("approval links: for yourself (exact), for another approver only as a superadmin; never as an employee", () => {
  const mint = (
    role: Parameters<typeof checkLinkMint>[0]["minter"]["role"],
    names: string[],
    approver: string,
  ) => {
    const d = checkLinkMint({ minter: { role, names }, approver });
    return d.ok ? (d.forOther ? "forOther" : "own") : d.reason;
  };
  assert.equal(mint("admin", ["ada", "ada@x.example"], "ada"), "own");
  assert.equal(mint("admin", ["ada", "ada@x.example"], "ADA@x.example"), "own");
  assert.equal(mint("admin", ["ada", "ada@x.example"], "bert"), "NotOwnLink");
  assert.equal(
    mint("admin", ["ada", "ada@x.example"], "ada@other.example"),
    "NotOwnLink",
    "exact, no local parts",
  );
  assert.equal(mint("helpdesk", ["hal"], "bert"), "NotOwnLink");
  assert.equal(mint("superadmin", ["root"], "bert"), "forOther");
  assert.equal(mint("superadmin", ["root"], "root"), "own");
  assert.equal(mint("employee", ["emp@x.example"], "emp@x.example"), "EmployeeLink");
});

// ---- every identity (#15 item 5), placer (item 3), expiry, leavers, grants, delegations (item 6) ----
const more: { name: string; given: ApprovalInput; want: string }[] = [
  {
    name: "requester.id is the approver's username, other e-mail → SelfApproval",
    given: base({
      order: { ...base().order, requesterEmail: "someone@else.example", requesterIdentities: ["bert"] },
    }),
    want: "SelfApproval",
  },
  {
    name: "account without e-mail approving an order for its own address → SelfApproval",
    given: base({
      approver: { username: "carl" },
      order: { ...base().order, requesterEmail: "carl@corp.example" },
    }),
    want: "SelfApproval",
  },
  {
    name: "approver's SCIM externalId is among the requester's identities → SelfApproval",
    given: base({
      approver: { username: "bert", email: "bert@corp.example", identities: ["ext-42"] },
      order: { ...base().order, requesterIdentities: ["emp", "ext-42"] },
    }),
    want: "SelfApproval",
  },
  {
    name: "the staff member who placed the order on behalf → SelfApproval",
    given: base({
      order: { ...base().order, placedBy: { actor: "admin:bert", username: "bert" } },
    }),
    want: "SelfApproval",
  },
  {
    name: "placed through a token of the approver → SelfApproval",
    given: base({
      order: {
        ...base().order,
        placedBy: { actor: "token:ci", onBehalfOf: { username: "bert", email: "bert@corp.example" } },
      },
    }),
    want: "SelfApproval",
  },
  {
    name: "placed by someone else → ok",
    given: base({ order: { ...base().order, placedBy: { actor: "admin:root", username: "root" } } }),
    want: "ok",
  },
  {
    name: "expired (system:approvals entry) → ApprovalExpired, also for a decline",
    given: base({
      decision: "Declined",
      order: {
        ...base().order,
        phase: "Failed",
        approvals: [{ approver: "system:approvals", at: now.toISOString() }],
      },
    }),
    want: "ApprovalExpired",
  },
  { name: "leaver → Leaver", given: base({ approverIsLeaver: true }), want: "Leaver" },
  {
    name: "granted in a listed approver's place (escalation) → ok",
    given: base({
      approver: { username: "mgr", email: "mgr@corp.example" },
      grants: [{ approverKey: "carl", names: ["mgr@corp.example"] }],
    }),
    want: "ok",
  },
  {
    name: "a grant for a key that is not listed → NotApprover",
    given: base({
      approver: { username: "mgr", email: "mgr@corp.example" },
      grants: [{ approverKey: "nobody", names: ["mgr@corp.example"] }],
    }),
    want: "NotApprover",
  },
];
for (const c of more) {
  test(c.name, () => {
    const r = checkApproval(c.given);
    assert.equal(r.ok ? "ok" : r.reason, c.want, r.ok ? "" : r.message);
  });
}

test("runbook changes count for separation of duties like asset type changes", () => {
  const r = checkApproval(
    base({ assetTypeChanges: [{ id: "9", action: "runbook_updated", actor: "admin:bert", at: now }] }),
  );
  assert.equal(r.ok ? "ok" : r.reason, "SeparationOfDuties");
});

const dl = (over: Partial<DelegationInput> = {}): DelegationInput => ({
  setter: { role: "admin", actor: "admin:bert", person: { username: "bert", email: "bert@corp.example" } },
  principal: { name: "bert@corp.example", identities: ["bert", "bert@corp.example"] },
  deputy: { name: "carl@corp.example", identities: ["carl"] },
  startsAt: now,
  endsAt: new Date(now.getTime() + 86400_000),
  now,
  ...over,
});
const dcases: { name: string; given: DelegationInput; want: string }[] = [
  { name: "own delegation → ok", given: dl(), want: "ok" },
  {
    name: "an admin for someone else → NotOwn",
    given: dl({
      principal: { name: "carl@corp.example", identities: ["carl"] },
      deputy: { name: "bert", identities: [] },
    }),
    want: "NotOwn",
  },
  {
    name: "a superadmin for someone else → ok (forOther)",
    given: dl({
      setter: { role: "superadmin", actor: "admin:root", person: { username: "root" } },
      principal: { name: "carl@corp.example", identities: ["carl"] },
      deputy: { name: "dora@corp.example", identities: [] },
    }),
    want: "ok:forOther",
  },
  {
    name: "deputy = own username, principal = own e-mail → SelfDeputy",
    given: dl({ deputy: { name: "bert", identities: [] } }),
    want: "SelfDeputy",
  },
  {
    name: "deputy's directory identities include the principal → SelfDeputy",
    given: dl({ deputy: { name: "b.smith@corp.example", identities: ["bert@corp.example"] } }),
    want: "SelfDeputy",
  },
  {
    name: "window ends before it starts → BadWindow",
    given: dl({ endsAt: new Date(now.getTime() - 1) }),
    want: "BadWindow",
  },
  {
    name: "window already over → BadWindow",
    given: dl({
      startsAt: new Date(now.getTime() - 3 * 86400_000),
      endsAt: new Date(now.getTime() - 86400_000),
    }),
    want: "BadWindow",
  },
];
for (const c of dcases) {
  test(`delegation: ${c.name}`, () => {
    const r = checkDelegation(c.given);
    assert.equal(r.ok ? (r.forOther ? "ok:forOther" : "ok") : r.reason, c.want, r.ok ? "" : r.message);
  });
}
