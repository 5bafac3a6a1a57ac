import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decideEntitlement,
  isEntitlementRequired,
  type Entitlement,
  type EntitlementDecision,
  type Orderer,
} from "./entitlement.ts";

const vpn = { id: "5b0c3c8e-1f6a-4d55-9b8e-0b6c0d9f1a01", displayName: "VPN Users", externalId: "ext-VPN" };
const who = (over: Partial<Orderer> = {}): Orderer => ({
  active: true,
  department: "Sales",
  groups: [vpn],
  ...over,
});

const cases: {
  name: string;
  ent: Entitlement | undefined;
  who: Orderer | undefined;
  want: EntitlementDecision["ok"];
  reason?: string;
  via?: string;
}[] = [
  { name: "unset → nobody", ent: undefined, who: who(), want: false, reason: "NoEntitlement" },
  { name: "empty object → nobody", ent: {}, who: who(), want: false, reason: "NoEntitlement" },
  {
    name: "empty lists, everyone false → nobody",
    ent: { everyone: false, groups: [], departments: [] },
    who: who(),
    want: false,
    reason: "NoEntitlement",
  },
  {
    name: "blank entries count as none",
    ent: { groups: ["  "], departments: [""] },
    who: who(),
    want: false,
    reason: "NoEntitlement",
  },
  { name: "everyone", ent: { everyone: true }, who: who(), want: true, via: "everyone" },
  {
    name: "everyone, no SCIM record",
    ent: { everyone: true },
    who: undefined,
    want: true,
    via: "everyone",
  },
  {
    name: "everyone, but deactivated",
    ent: { everyone: true },
    who: who({ active: false }),
    want: false,
    reason: "Inactive",
  },
  {
    name: "department, case and spaces ignored",
    ent: { departments: [" sales "] },
    who: who({ department: "SALES  " }),
    want: true,
    via: "department",
  },
  {
    name: "other department",
    ent: { departments: ["Finance"] },
    who: who(),
    want: false,
    reason: "NotEntitled",
  },
  {
    name: "no department on record",
    ent: { departments: ["Sales"] },
    who: who({ department: null, groups: [] }),
    want: false,
    reason: "NotEntitled",
  },
  {
    name: "department listed but no SCIM record",
    ent: { departments: ["Sales"] },
    who: undefined,
    want: false,
    reason: "NotEntitled",
  },
  {
    name: "group by displayName, case-insensitive",
    ent: { groups: ["vpn users"] },
    who: who(),
    want: true,
    via: "group",
  },
  { name: "group by id", ent: { groups: [vpn.id.toUpperCase()] }, who: who(), want: true, via: "group" },
  { name: "group by externalId", ent: { groups: ["ext-VPN"] }, who: who(), want: true, via: "group" },
  {
    name: "externalId is case-exact",
    ent: { groups: ["EXT-vpn"] },
    who: who(),
    want: false,
    reason: "NotEntitled",
  },
  {
    name: "not a member",
    ent: { groups: ["Finance Team"] },
    who: who(),
    want: false,
    reason: "NotEntitled",
  },
  {
    name: "member, but deactivated",
    ent: { groups: ["VPN Users"] },
    who: who({ active: false }),
    want: false,
    reason: "Inactive",
  },
  {
    name: "department or group: either one",
    ent: { departments: ["Finance"], groups: ["VPN Users"] },
    who: who(),
    want: true,
    via: "group",
  },
];

for (const c of cases) {
  test(`entitlement: ${c.name}`, () => {
    const d = decideEntitlement(c.ent, c.who);
    assert.equal(d.ok, c.want);
    if (!d.ok) assert.equal(d.reason, c.reason);
    else assert.equal(d.via, c.via);
  });
}

test("entitlement gates Provision and Modify, never Deprovision", () => {
  assert.equal(isEntitlementRequired("Provision"), true);
  assert.equal(isEntitlementRequired("Modify"), true);
  assert.equal(isEntitlementRequired("Deprovision"), false);
});
