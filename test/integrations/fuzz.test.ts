// Fuzz: ≥ 10,000 malformed or hostile bodies against SCIM, the HR webhook and the ServiceNow
// webhook on the real wiring (app.inject, real Postgres and API server). No answer may be a
// 5xx, and none of these requests may change state: employees, leaver events, audit rows and
// Orders are compared before and after. Bodies that happen to be valid are filtered out with
// the same pure functions the routes use, so each request sent is one that must be refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { signBody } from "../../api/leaver/signature.ts";
import { normaliseUser, type ScimUser } from "../../api/scim/user.ts";
import { applyPatch } from "../../api/scim/patch.ts";
import { LeaverBody } from "../../api/routes/hr/index.ts";
import { RequestItem } from "../../api/routes/servicenow/index.ts";
import {
  HR_SECRET,
  SNOW_SECRET,
  createAssetType,
  listOrders,
  newScimApi,
  userBody,
  type ScimApi,
} from "../scim/support.ts";
import { drainFanouts } from "../../api/leaver/background.ts";

const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const hostileKey = fc.constantFrom(
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "userName",
  "USERNAME",
  "active",
  "emails",
  "name",
  "schemas",
  "Operations",
  "op",
  "path",
  "value",
  "upn",
  "email",
  "employeeId",
  "effectiveDate",
  "dryRun",
  "number",
  "requested_for",
  "cat_item",
  "variables",
  ENT,
  "name.givenName",
  `${ENT}:manager`,
  'emails[type eq "work"].value',
);
const hostileString = fc.constantFrom(
  "",
  '"',
  "\\",
  "\u0000",
  "\ud800",
  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  "' OR 1=1 --",
  "'; DROP TABLE employees; --",
  "${jndi:ldap://x/a}",
  "<script>alert(1)</script>",
  "../../etc/passwd",
  "False",
  "True",
  "RITM",
  "x".repeat(5000),
  'emails[type eq "work"',
  "not (",
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:",
);
const leaf = fc.oneof(
  fc.string(),
  hostileString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ unit: "binary", maxLength: 40 }),
);
const { value: json } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", maxDepth: 5 },
    leaf,
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.oneof(hostileKey, fc.string({ maxLength: 12 })), tie("value"), { maxKeys: 6 }),
  ),
}));

/** Raw bodies: JSON of hostile values, broken JSON, binary noise, pathological nesting. */
const rawBody = fc.oneof(
  { weight: 6, arbitrary: json.map((v) => JSON.stringify(v) ?? "null") },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
  { weight: 1, arbitrary: json.map((v) => (JSON.stringify(v) ?? "").slice(0, -1)) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 60_000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => '{"a":'.repeat(n) + "1" + "}".repeat(n)),
  },
);

const parseOr = (raw: string): { ok: true; v: unknown } | { ok: false } => {
  try {
    return { ok: true, v: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
};

async function snapshot(api: ScimApi) {
  const q = async (sql: string) => (await api.db.query<{ v: string }>(sql)).rows[0]?.v ?? "";
  return {
    employees: await q(
      "SELECT coalesce(string_agg(id::text || ':' || version, ',' ORDER BY id), '') AS v FROM employees",
    ),
    leavers: await q("SELECT count(*)::text AS v FROM leaver_events"),
    audit: await q("SELECT count(*)::text AS v FROM audit_events"),
    orders: (await listOrders(api))
      .map((o) => `${o.metadata?.name}:${o.metadata?.resourceVersion}`)
      .sort()
      .join(","),
  };
}

test("fuzz: 10,000+ malformed or hostile bodies → never a 5xx, never a state change", async (t) => {
  const api = await newScimApi(t);
  const created = await api.scim(
    "POST",
    "/Users",
    userBody("fuzz@example.com", { [ENT]: { employeeNumber: "F-1" } }),
  );
  assert.equal(created.statusCode, 201);
  const id = created.json<{ id: string }>().id;
  const current = (
    await api.db.query<{ resource: ScimUser }>("SELECT resource FROM employees WHERE id = $1", [id])
  ).rows[0]!.resource;
  await createAssetType(api, "fuzz-asset");
  const before = await snapshot(api);
  const counts: Record<string, number> = {};
  const fivexx: string[] = [];
  const hit = async (name: string, res: { statusCode: number; body: string }) => {
    counts[name] = (counts[name] ?? 0) + 1;
    if (res.statusCode >= 500) fivexx.push(`${name}: ${res.statusCode} ${res.body.slice(0, 200)}`);
    await Promise.resolve();
  };
  const scimHeaders = (ct: string) => ({ authorization: `Bearer ${api.token}`, "content-type": ct });
  const ct = fc.constantFrom("application/scim+json", "application/json");

  // SCIM create: bodies that are not a valid User.
  await fc.assert(
    fc.asyncProperty(rawBody, ct, async (raw, type) => {
      const p = parseOr(raw);
      fc.pre(!p.ok || !normaliseUser(p.v).ok);
      const res = await api.app.inject({
        method: "POST",
        url: "/scim/v2/Users",
        headers: scimHeaders(type),
        payload: raw,
      });
      await hit("scim-create", res);
      return res.statusCode < 500 && res.statusCode >= 400;
    }),
    { numRuns: 3000 },
  );

  // SCIM PATCH and PUT on an existing user: PatchOps and Users that must be refused.
  const patchBody = fc.oneof(
    rawBody,
    fc
      .record({
        schemas: fc.oneof(fc.constant(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]), json),
        Operations: fc.oneof(
          json,
          fc.array(
            fc.record(
              {
                op: fc.oneof(fc.constantFrom("add", "Replace", "REMOVE", "move", ""), json),
                path: fc.oneof(hostileString, fc.string({ maxLength: 40 }), hostileKey, json),
                value: json,
              },
              { requiredKeys: [] },
            ),
            { maxLength: 4 },
          ),
        ),
      })
      .map((o) => JSON.stringify(o)),
  );
  await fc.assert(
    fc.asyncProperty(patchBody, ct, fc.boolean(), async (raw, type, put) => {
      const p = parseOr(raw);
      if (put) fc.pre(!p.ok || !normaliseUser(p.v).ok);
      else fc.pre(!p.ok || !applyPatch(current, p.v).ok);
      const res = await api.app.inject({
        method: put ? "PUT" : "PATCH",
        url: `/scim/v2/Users/${id}`,
        headers: scimHeaders(type),
        payload: raw,
      });
      await hit(put ? "scim-put" : "scim-patch", res);
      return res.statusCode < 500 && res.statusCode >= 400;
    }),
    { numRuns: 2000 },
  );

  // SCIM queries: hostile filters, paging and projections (read-only: 2xx or 4xx).
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.string({ maxLength: 80 }), hostileString, fc.string({ unit: "binary", maxLength: 80 })),
      fc.oneof(fc.integer(), fc.string({ maxLength: 5 })),
      fc.oneof(fc.string({ maxLength: 30 }), hostileKey),
      async (filter, n, attrs) => {
        const qs = new URLSearchParams({
          filter,
          startIndex: String(n),
          count: String(n),
          attributes: attrs,
        });
        const res = await api.app.inject({
          method: "GET",
          url: `/scim/v2/Users?${qs.toString()}`,
          headers: scimHeaders("application/json"),
        });
        await hit("scim-query", res);
        return res.statusCode < 500;
      },
    ),
    { numRuns: 1500 },
  );

  // HR leaver webhook: validly signed bodies that are not a leaver, and badly signed anything.
  await fc.assert(
    fc.asyncProperty(rawBody, fc.boolean(), async (raw, signed) => {
      const p = parseOr(raw);
      if (signed) fc.pre(!p.ok || !LeaverBody.safeParse(p.v).success);
      const res = await api.app.inject({
        method: "POST",
        url: "/hr/leaver",
        headers: {
          "content-type": "application/json",
          "x-hub-signature-256": signed ? signBody(HR_SECRET, raw) : signBody("wrong-secret", raw),
        },
        payload: raw,
      });
      await hit(signed ? "hr-signed" : "hr-badsig", res);
      return signed ? res.statusCode === 400 : res.statusCode === 401;
    }),
    { numRuns: 2000 },
  );

  // ServiceNow: validly signed bodies that are not a request item, and unsigned ones.
  await fc.assert(
    fc.asyncProperty(rawBody, fc.boolean(), async (raw, signed) => {
      const p = parseOr(raw);
      if (signed) fc.pre(!p.ok || !RequestItem.safeParse(p.v).success);
      const res = await api.app.inject({
        method: "POST",
        url: "/servicenow/v1/requests",
        headers: {
          "content-type": "application/json",
          ...(signed ? { "x-hub-signature-256": signBody(SNOW_SECRET, raw) } : {}),
        },
        payload: raw,
      });
      await hit(signed ? "snow-signed" : "snow-unsigned", res);
      return signed ? res.statusCode === 400 : res.statusCode === 401;
    }),
    { numRuns: 1500 },
  );

  await drainFanouts(api.app.deps);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  t.diagnostic(`requests sent: ${total} ${JSON.stringify(counts)}`);
  assert.deepEqual(fivexx, []);
  assert.ok(total >= 10_000, `sent ${total}`);
  assert.deepEqual(await snapshot(api), before);
});
