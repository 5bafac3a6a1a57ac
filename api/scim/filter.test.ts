import { test } from "node:test";
import assert from "node:assert/strict";
import { matches, parseFilter, parsePatchPath, requiredEqualities, undefinedAttribute } from "./filter.ts";
import { ENTERPRISE_USER } from "./schema.ts";

const user = {
  id: "2819c223-7f76-453a-919d-413861904646",
  externalId: "Bjensen-EXT",
  userName: "bjensen@example.com",
  name: { givenName: "Barbara", familyName: "Jensen" },
  displayName: "Babs Jensen",
  active: true,
  title: "Tour Guide",
  emails: [
    { value: "bjensen@example.com", type: "work", primary: true },
    { value: "babs@jensen.org", type: "home" },
  ],
  [ENTERPRISE_USER]: { department: "Tours", employeeNumber: "701984", manager: { value: "26118915" } },
  meta: { created: "2024-01-02T03:04:05.000Z", lastModified: "2025-05-06T07:08:09.000Z" },
};

const cases: { filter: string; want: boolean }[] = [
  { filter: 'userName eq "bjensen@example.com"', want: true },
  { filter: 'USERNAME EQ "BJENSEN@EXAMPLE.COM"', want: true }, // names, operator, caseExact=false
  { filter: 'userName ne "bjensen@example.com"', want: false },
  { filter: 'externalId eq "bjensen-ext"', want: false }, // externalId is caseExact
  { filter: 'externalId eq "Bjensen-EXT"', want: true },
  { filter: 'id eq "2819c223-7f76-453a-919d-413861904646"', want: true },
  { filter: 'name.familyName co "ens"', want: true },
  { filter: 'userName sw "BJ"', want: true },
  { filter: 'userName ew "example.com"', want: true },
  { filter: "title pr", want: true },
  { filter: "nickName pr", want: false },
  { filter: 'emails.value eq "babs@jensen.org"', want: true },
  { filter: 'emails eq "babs@jensen.org"', want: true },
  { filter: 'emails[type eq "work"].value eq "x"', want: false },
  { filter: 'emails[type eq "work"].value eq "BJENSEN@example.com"', want: true }, // Entra's form
  { filter: 'emails[type eq "home"].value eq "bjensen@example.com"', want: false }, // the work one
  { filter: 'emails[type eq "home"].value co "jensen.org"', want: true },
  { filter: 'emails[type eq "work"].display pr', want: false },
  { filter: 'emails[type eq "work" and value co "@example.com"]', want: true },
  { filter: 'emails[type eq "home" and value co "@example.com"]', want: false },
  { filter: 'emails[not (type eq "work")]', want: true },
  { filter: "active eq true", want: true },
  { filter: "active eq false", want: false },
  { filter: 'not (userName eq "bjensen@example.com")', want: false },
  { filter: 'userName eq "x" or userName eq "bjensen@example.com"', want: true },
  { filter: 'userName eq "x" or userName eq "y" and title pr', want: false },
  { filter: '(userName eq "x" or title pr) and active eq true', want: true },
  { filter: 'meta.lastModified gt "2025-01-01T00:00:00Z"', want: true },
  { filter: 'meta.created ge "2024-01-02T03:04:05Z"', want: true },
  { filter: 'meta.created lt "2024-01-01T00:00:00Z"', want: false },
  { filter: `${ENTERPRISE_USER}:department eq "tours"`, want: true },
  { filter: `${ENTERPRISE_USER}:manager.value eq "26118915"`, want: true },
  { filter: 'title gt "A" and title le "Tour Guide"', want: true },
  { filter: 'userName eq "a \\"quoted\\" name"', want: false },
];

for (const c of cases) {
  test(`filter ${c.filter} → ${c.want}`, () => {
    const f = parseFilter(c.filter);
    assert.ok(f.ok, f.ok ? "" : f.error);
    assert.equal(matches(user, f.value), c.want);
  });
}

const invalid = [
  "",
  "userName",
  "userName eq",
  'userName xx "a"',
  'userName eq "unterminated',
  '(userName eq "a"',
  'userName eq "a")',
  'not userName eq "a"',
  'userName eq "a" and',
  'emails[type eq "work"',
  "userName eq bareword",
  'a.b.c eq "x"',
  "userName eq \u0000",
  "(".repeat(100) + 'userName eq "a"' + ")".repeat(100),
];
for (const s of invalid) {
  test(`invalid filter ${JSON.stringify(s.slice(0, 40))}`, () => {
    assert.equal(parseFilter(s).ok, false);
  });
}

test("a boolean compared with gt is an evaluation error (invalidFilter)", () => {
  const f = parseFilter("active gt true");
  assert.ok(f.ok);
  assert.deepEqual(typeof matches(user, f.value), "object");
});

test("the Entra probe filter matches nothing", () => {
  const f = parseFilter('userName eq "4ac1c7b5-3a5e-4b5e-9d1e-0b6d9c5a7e21"');
  assert.ok(f.ok);
  assert.equal(matches(user, f.value), false);
});

test("patch paths", () => {
  const p = parsePatchPath('emails[type eq "work"].value');
  assert.ok(p.ok);
  assert.equal(p.value.path.attr, "emails");
  assert.equal(p.value.sub, "value");
  const u = parsePatchPath(`${ENTERPRISE_USER}:manager`);
  assert.ok(u.ok);
  assert.equal(u.value.path.schema, ENTERPRISE_USER);
  assert.equal(u.value.path.attr, "manager");
  assert.equal(parsePatchPath("name.givenName").ok, true);
  assert.equal(parsePatchPath('emails[type eq "work"]x').ok, false);
  assert.equal(parsePatchPath("emails[").ok, false);
});

test("required equalities pre-select by userName", () => {
  const f = parseFilter('userName eq "a" and active eq true');
  assert.ok(f.ok);
  assert.deepEqual(requiredEqualities(f.value), [{ attr: "username", value: "a" }]);
  const g = parseFilter('userName eq "a" or userName eq "b"');
  assert.ok(g.ok);
  assert.deepEqual(requiredEqualities(g.value), []);
  const entra = parseFilter('emails[type eq "work"].value eq "ann@example.com"');
  assert.ok(entra.ok);
  assert.deepEqual(requiredEqualities(entra.value), [{ attr: "emails.value", value: "ann@example.com" }]);
});

test("undefinedAttribute names the first attribute path the User schema does not define", () => {
  const check = (s: string) => {
    const f = parseFilter(s);
    assert.ok(f.ok, s);
    return undefinedAttribute(f.value);
  };
  assert.equal(check('foo eq "x"'), "foo");
  assert.equal(check('userName eq "a" and name.nope pr'), "name.nope");
  assert.equal(check('emails[type eq "work" or kind eq "x"]'), "emails.kind");
  assert.equal(check('urn:example:custom:2.0:User:badge eq "1"'), "urn:example:custom:2.0:User:badge");
  assert.equal(check(`${ENTERPRISE_USER}:nope pr`), `${ENTERPRISE_USER}:nope`);
  for (const ok of [
    'USERNAME eq "a"',
    'emails[TYPE eq "work" and value co "x"]',
    "emails.VALUE pr",
    "meta.lastModified pr",
    'not (title pr) or externalId eq "x"',
    `${ENTERPRISE_USER}:manager.value eq "x"`,
    'department eq "x"',
  ]) {
    assert.equal(check(ok), undefined, ok);
  }
});
