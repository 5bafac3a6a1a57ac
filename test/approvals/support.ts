// A running stack for the notification tests: real API server (listening, for Chromium),
// operator, local node, Postgres, mailpit (SMTP), and one local HTTP receiver standing in for
// Teams and the generic webhook endpoint. The API's clock is real time plus a settable offset,
// so reminders, escalation and expiry are reached without sleeping.
import type { TestContext } from "node:test";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { pino } from "pino";
import { buildApp, type App } from "../../api/app.ts";
import { createPool, migrate, type Db } from "../../record/db.ts";
import { createEmployee } from "../../record/employees/store.ts";
import { freePort } from "../cluster/control-plane.ts";
import { newDatabase } from "../support/db.ts";
import { newNamespace, testKubeConfig } from "../support/kube.ts";
import { applyCrds } from "../support/crds.ts";
import { startMailpit, type Mailpit } from "../support/mailpit.ts";
import { runLocalNodeIn } from "../localnode/testing.ts";
import { runOperator } from "../operator/support.ts";
import { startNotifier, notifierDepsOf, type Notifier } from "../../api/notify/notifier.ts";
import { notifySettingsOf, type NotifySettings } from "../../api/notify/settings.ts";
import type { NotifierDeps } from "../../api/notify/approval-requests.ts";
import { signInAsEmployee, withCsrf, type Api } from "../api/support.ts";
import { ENTERPRISE_USER } from "../../api/scim/schema.ts";

export const WEBHOOK_SECRET = `whsec_${Buffer.from("notification-webhook-test-secret-0123").toString("base64")}`;

export type Received = { path: string; headers: IncomingHttpHeaders; body: string };

export type Stack = {
  app: App;
  db: Db;
  ns: string;
  base: string;
  mail: Mailpit;
  sink: Received[];
  clock: { offsetMs: number };
  now: () => Date;
  settings: NotifySettings;
  notifier: Notifier;
  /** What the CronJob's tick gets: same deps, the test's clock. */
  tickDeps: NotifierDeps;
  /** Restarts the notifier (a new API process). */
  restartNotifier(): Promise<void>;
  asEmployee(email: string, id: string): ReturnType<typeof signInAsEmployee>;
};

async function startSink(t: Pick<TestContext, "after">): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const a = srv.address();
  const port = typeof a === "object" && a ? a.port : 0;
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  return { url: `http://127.0.0.1:${port}`, got };
}

export type Person = { email: string; name: string; manager: string | null; lang?: string };

export async function startStack(t: TestContext, prefix: string, people: Person[]): Promise<Stack> {
  await applyCrds();
  // node:test runs after-hooks in the order they were added: the database must be dropped
  // after the API and the notifier let go of it, so both go through one last-in-first-out list.
  const teardown: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const fn of teardown.reverse()) await fn();
  });
  const url = await newDatabase(
    {
      after: ((fn: () => unknown) => {
        teardown.push(async () => {
          await fn();
        });
      }) as TestContext["after"],
    },
    prefix,
  );
  await migrate(url);
  const db = createPool(url, { max: 8 });
  const ns = await newNamespace(t, prefix);
  await runLocalNodeIn(t, ns, 30);
  await runOperator(t, ns);
  const mail = await startMailpit();
  t.after(() => mail.stop());
  const sink = await startSink(t);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const clock = { offsetMs: 0 };
  const now = () => new Date(Date.now() + clock.offsetMs);
  const log = pino({ level: process.env.IPSOLIS_TEST_LOG ?? "silent" });
  const config = {
    IPSOLIS_PUBLIC_URL: base,
    IPSOLIS_SMTP_HOST: "127.0.0.1",
    IPSOLIS_SMTP_PORT: mail.smtpPort,
    IPSOLIS_SMTP_STARTTLS: "off" as const,
    IPSOLIS_SMTP_FROM: "ipsolis <ipsolis@corp.example>",
    IPSOLIS_TEAMS_WEBHOOK_URL: `${sink.url}/teams`,
    IPSOLIS_NOTIFY_WEBHOOK_URL: `${sink.url}/hook`,
    IPSOLIS_NOTIFY_WEBHOOK_SECRET: WEBHOOK_SECRET,
  };
  const app = await buildApp({ log, db, kc: testKubeConfig(), namespace: ns, now, config });
  await app.listen({ host: "127.0.0.1", port });
  for (const p of people) {
    await createEmployee(
      db,
      {
        userName: p.email,
        externalId: null,
        employeeNumber: null,
        displayName: p.name,
        emails: [p.email],
        active: true,
        department: "Sales",
        costCenter: "CC-1",
        manager: p.manager,
      },
      // The SCIM document matches the columns, so a later SCIM write (e.g. a deactivation)
      // keeps the person's e-mail, name and manager.
      {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
        userName: p.email,
        displayName: p.name,
        emails: [{ value: p.email, type: "work", primary: true }],
        [ENTERPRISE_USER]: {
          department: "Sales",
          costCenter: "CC-1",
          ...(p.manager ? { manager: { value: p.manager } } : {}),
        },
        ...(p.lang ? { preferredLanguage: p.lang } : {}),
      },
      new Date(),
    );
  }
  const settings = await notifySettingsOf(config);
  const start = () =>
    startNotifier({
      db,
      kc: testKubeConfig(),
      namespace: ns,
      log,
      now,
      settings,
      linkSecret: app.security.linkSecret,
      publicUrl: base,
      intervalMs: 300,
      backoff: { baseMs: 200, maxMs: 1000 },
      metrics: app.metrics,
    });
  const stack: Stack = {
    app,
    db,
    ns,
    base,
    mail,
    sink: sink.got,
    clock,
    now,
    settings,
    notifier: start(),
    tickDeps: notifierDepsOf({ db, kc: testKubeConfig(), namespace: ns, log, now, settings }),
    async restartNotifier() {
      await stack.notifier.stop();
      stack.notifier = start();
    },
    asEmployee: (email, id) => signInAsEmployee(apiOf(stack), email, id),
  };
  teardown.push(async () => {
    await stack.notifier.stop();
    await app.close();
    await db.end();
  });
  return stack;
}

/** The Api shape test/api/support.ts helpers take. */
export function apiOf(s: Stack): Api {
  return {
    app: s.app,
    db: s.db,
    kc: testKubeConfig(),
    namespace: s.ns,
    clock: {
      get now() {
        return s.now();
      },
    },
  };
}

export { withCsrf };

/** The one-click links and the portal link of a message's plain text. */
export function linksOf(text: string): { approve?: string; decline?: string; portal?: string } {
  const pick = (re: RegExp) => re.exec(text)?.[1];
  return {
    approve: pick(/(?:Approve|Genehmigen): (\S+)/),
    decline: pick(/(?:Decline|Ablehnen): (\S+)/),
    portal: pick(/(?:In the portal|Im Portal): (\S+)/),
  };
}

/**
 * Follows a one-click link as a mail client's user would without a browser: GET the page (its
 * CSRF cookie and field), then POST the decision. Returns the POST's status and page text.
 */
export async function decideByLink(
  link: string,
  decision: "Approved" | "Declined",
): Promise<{ getStatus: number; status: number; page: string }> {
  const get = await fetch(link);
  const page = await get.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!csrf) return { getStatus: get.status, status: get.status, page };
  const cookie = get.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const post = await fetch(link.split("?")[0]!, {
    method: "POST",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf, decision }).toString(),
  });
  return { getStatus: get.status, status: post.status, page: await post.text() };
}
