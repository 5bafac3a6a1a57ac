// The schema's two sides in a least-privilege deployment: `node record/migrate.ts` applies the
// migrations as the schema owner (what the chart's Job runs), the least-privileged role cannot,
// and the API and the operator with IPSOLIS_MIGRATIONS=check refuse to start, saying what to
// do, while the schema is behind; once migrated they start as the least-privileged role.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import pg from "pg";
import { startServer } from "../../api/server.ts";
import { startOperator, OperatorEnv } from "../../operator/main.ts";
import { loadConfig } from "../../record/config.ts";
import { adminUrl } from "../support/db.ts";
import { testEnv } from "../support/env.ts";
import { newNamespace, testKubeConfig } from "../support/kube.ts";
import { root, run } from "./support.ts";

/** A database owned by a non-superuser owner, and a LOGIN member of ipsolis_app. */
async function roles(t: TestContext) {
  const id = randomBytes(4).toString("hex");
  const [owner, app, db, pw] = [`own_${id}`, `app_${id}`, `mig_${id}`, randomBytes(12).toString("hex")];
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    await c.query(
      `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipsolis_app') THEN CREATE ROLE ipsolis_app NOLOGIN; END IF;
       EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
    );
    await c.query(`CREATE ROLE ${owner} LOGIN PASSWORD '${pw}'`);
    await c.query(`CREATE ROLE ${app} LOGIN PASSWORD '${pw}' IN ROLE ipsolis_app`);
    await c.query(`CREATE DATABASE ${db} OWNER ${owner}`);
  } finally {
    await c.end();
  }
  t.after(async () => {
    const d = new pg.Client({ connectionString: adminUrl() });
    await d.connect();
    await d.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await d.query(`DROP ROLE IF EXISTS ${app}`);
    await d.query(`DROP ROLE IF EXISTS ${owner}`);
    await d.end();
  });
  const url = (user: string) => {
    const u = new URL(adminUrl(db));
    u.username = user;
    u.password = pw;
    return u.toString();
  };
  return { ownerUrl: url(owner), appUrl: url(app) };
}

const migrateCli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [join(root, "record", "migrate.ts"), ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
  });

const secret = "s".repeat(40);

test("the migrate entry point: the owner migrates, --check says current; the app role is refused; bad usage exits 2", async (t) => {
  const { ownerUrl, appUrl } = await roles(t);
  const behind = await migrateCli(["--check", "--database-url", appUrl]);
  assert.equal(behind.code, 1, behind.stderr);
  assert.match(behind.stdout, /"schema behind"/);
  const asApp = await migrateCli([], { IPSOLIS_MIGRATE_DATABASE_URL: appUrl });
  assert.equal(asApp.code, 1, "the least-privileged role cannot migrate");
  assert.match(asApp.stderr, /permission denied/);
  const asOwner = await migrateCli([], { IPSOLIS_MIGRATE_DATABASE_URL: ownerUrl });
  assert.equal(asOwner.code, 0, asOwner.stderr);
  assert.match(asOwner.stdout, /"migrations applied"/);
  assert.ok(
    !asOwner.stdout.includes(ownerUrl) && !asOwner.stderr.includes(ownerUrl),
    "no URL (password) in the output",
  );
  const again = await migrateCli([], { IPSOLIS_MIGRATE_DATABASE_URL: ownerUrl });
  assert.match(again.stdout, /"applied":\[\]/, "idempotent");
  const current = await migrateCli(["--check", "--database-url", appUrl]);
  assert.equal(current.code, 0, current.stderr);
  assert.match(current.stdout, /"schema current"/);
  const none = await migrateCli([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /IPSOLIS_MIGRATE_DATABASE_URL/);
  const down = await migrateCli(["--database-url", "postgres://x:y@127.0.0.1:1/db"]);
  assert.equal(down.code, 2);
});

test("API and operator in check mode refuse a schema that is behind, with what to do; start once migrated", async (t) => {
  const { ownerUrl, appUrl } = await roles(t);
  const ns = await newNamespace(t, "mig");
  const apiEnv = {
    IPSOLIS_DATABASE_URL: appUrl,
    IPSOLIS_MIGRATIONS: "check",
    IPSOLIS_NAMESPACE: ns,
    IPSOLIS_KUBECONFIG: testEnv().kubeconfig,
    IPSOLIS_SESSION_SECRET: secret,
    IPSOLIS_LINK_SECRET: secret,
    IPSOLIS_LISTEN_PORT: "0",
    IPSOLIS_LOG_LEVEL: "warn",
  };
  await assert.rejects(startServer(apiEnv), (err: Error) => {
    assert.match(err.message, /database schema is behind/);
    assert.match(err.message, /0001_create_audit_events\.sql/);
    assert.match(err.message, /node record\/migrate\.ts/);
    return true;
  });
  const opConfig = loadConfig(OperatorEnv, {
    IPSOLIS_NAMESPACE: ns,
    IPSOLIS_DATABASE_URL: appUrl,
    IPSOLIS_MIGRATIONS: "check",
    IPSOLIS_OPERATOR_PORT: "0",
    IPSOLIS_LEADER_ELECTION: "false",
    LOG_LEVEL: "silent",
  });
  await assert.rejects(
    startOperator(opConfig, { kubeConfig: testKubeConfig() }),
    /database schema is behind/,
  );
  // The CLI, as the program would print it: exit 1 and one line saying what to do.
  const cli = await run(process.execPath, [join(root, "api", "server.ts")], {
    env: { PATH: process.env.PATH ?? "", ...apiEnv },
  });
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /ipsolis API failed to start: the database schema is behind/);

  assert.equal((await migrateCli([], { IPSOLIS_MIGRATE_DATABASE_URL: ownerUrl })).code, 0);
  const api = await startServer(apiEnv);
  t.after(api.stop);
  assert.equal((await fetch(`${api.url}/readyz`)).status, 200);
  const op = await startOperator(opConfig, { kubeConfig: testKubeConfig() });
  t.after(() => op.stop());
  await op.record?.migrated;
});
