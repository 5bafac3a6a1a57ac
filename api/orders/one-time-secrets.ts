// Generated one-time secrets (#22, the helpdesk's password reset; Zipline's case: the new
// password goes to the manager, who hands it over in person, never to the caller or the
// helpdesk). A request (an order or a Modify) asks for a generated attribute by naming it in
// `generate` (api/policy/generated.ts). Then, before the Order exists:
//   1. the person the asset is for must have an active manager with an e-mail address in the
//      directory (422 NoManager / ManagerInactive otherwise; nothing is written);
//   2. the API makes the value, and it travels like any secret attribute: into the Order's own
//      Secret `<order>-attrs`, never its spec, the audit, a response or a log;
//   3. a row in one_time_secrets holds it sealed (AES-256-GCM under a key derived from the link
//      secret, bound to row id, order, attribute and recipient), the manager is mailed a link to the
//      portal page, and `one_time_secret_issued` is audited (who, for whom, which attribute;
//      never the value), all in one transaction. Written before the Order, so an Order that
//      runs always has its delivery; when the Order cannot be made the value is wiped, the
//      mail withdrawn, and `one_time_secret_withdrawn` audited.
// The manager, signed in (a session, not a token), reveals it once, after the Order is
// Provisioned (the value works then), within 7 days; the reveal wipes it in the same
// transaction that audits `one_time_secret_revealed`. A Failed or Cancelled Order (or none
// ten minutes on), expiry, or a directory that no longer names the recipient the person's
// active manager wipes it unrevealed, on the next look or the sweep, whichever comes first,
// and audits `one_time_secret_wiped` with the reason.
// Nobody else can read it: not the requester, not an admin, not the API after the fact (a new
// link secret makes sealed values unreadable: 410 KeyChanged; reset again then).
import type { FastifyRequest } from "fastify";
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, randomInt } from "node:crypto";
import type { AssetTypeSpec } from "../../crds/generated/assettype.ts";
import type { OrderSpec, OrderStatus } from "../../crds/generated/order.ts";
import { appendAudit } from "../../record/audit.ts";
import { withTransaction, type Queryable } from "../../record/db.ts";
import { findEmployee } from "../../record/employees/store.ts";
import {
  ForbiddenError,
  GoneError,
  ConflictError,
  InputError,
  NotFoundError,
  UnprocessableError,
} from "../../record/errors.ts";
import {
  countOneTimeSecrets,
  getOneTimeSecret,
  insertOneTimeSecret,
  liveOneTimeSecrets,
  markUnreadableOneTimeSecret,
  oneTimeSecretsFor,
  takeOneTimeSecret,
  wipeOneTimeSecret,
  type OneTimeSecret,
} from "../../record/secrets/one-time.ts";
import { checkGenerate, DEFAULT_PASSWORD_LENGTH, oneTimePassword } from "../policy/generated.ts";
import { enqueue } from "../notify/outbox.ts";
import { channelNamesOf } from "../notify/settings.ts";
import { langOf } from "../notify/templates.ts";
import { principalOf } from "../plugins/auth.ts";
import { resourcesOf, type Cr } from "../plugins/resources.ts";

/** How long a generated value can be revealed. */
export const ONE_TIME_TTL_MS = 7 * 24 * 3600_000;

type Delivery = {
  attribute: string;
  value: string;
  recipient: string;
  recipientLang: "en" | "de";
};

/** The values a request asked for, and whom each goes to. Empty when it asked for none. */
export type Generated = {
  values: Record<string, string>;
  deliveries: Delivery[];
  /** The person's name as the directory has it (what the manager's mail shows). */
  subjectName?: string | undefined;
};

const NONE: Generated = { values: {}, deliveries: [] };

/**
 * The person a request is for, and their manager, as the directory has them: by e-mail, else by
 * the employee id (the SCIM userName). Generation and every later look use this one lookup, so
 * they can never disagree about who receives the value.
 */
async function subjectAndManager(q: Queryable, subject: { id?: string | undefined; email: string }) {
  const emp =
    (await findEmployee(q, subject.email)) ?? (subject.id ? await findEmployee(q, subject.id) : undefined);
  const manager = emp?.manager ? await findEmployee(q, emp.manager) : undefined;
  return { emp, manager };
}

/**
 * Who would receive a value generated for `subject` now: the active manager with an e-mail
 * address, or why nobody can (the portal hides its Reset button then, with the reason).
 */
export async function recipientOf(q: Queryable, subject: { id?: string | undefined; email: string }) {
  const { emp, manager } = await subjectAndManager(q, subject);
  if (!manager?.emails[0]) return { ok: false as const, reason: "NoManager" as const };
  const name = manager.displayName ?? manager.emails[0];
  if (!manager.active)
    return { ok: false as const, reason: "ManagerInactive" as const, manager: manager.emails[0], name };
  return {
    ok: true as const,
    emp,
    manager: { ...manager, emails: manager.emails as [string, ...string[]] },
    name,
  };
}

/**
 * Checks `generate` against the type (400 naming the bad entries), finds the manager each value
 * goes to (422 when the directory names none, or an inactive one) and makes the values.
 */
export async function generateRequested(
  q: Queryable,
  at: { spec: Pick<AssetTypeSpec, "attributes"> },
  requested: readonly string[] | undefined,
  subject: { id?: string | undefined; email: string },
): Promise<Generated> {
  const c = checkGenerate(at.spec.attributes, requested);
  if (!c.ok) throw new InputError(c.message, { reason: "InvalidGenerate", details: { fields: c.fields } });
  if (c.names.length === 0) return NONE;
  const r = await recipientOf(q, subject);
  const field = [{ path: "body.generate", message: "the one-time value goes to the manager" }];
  if (!r.ok && r.reason === "NoManager") {
    throw new UnprocessableError(
      `${subject.email} has no manager with an e-mail address in the directory (SCIM): nobody could receive the one-time password`,
      { reason: "NoManager", details: { fields: field } },
    );
  }
  if (!r.ok) {
    throw new UnprocessableError(
      `${subject.email}'s manager ${r.manager} is deactivated in the directory: nobody could receive the one-time password`,
      { reason: "ManagerInactive", details: { fields: field } },
    );
  }
  const { emp, manager } = r;
  const lang = manager.resource.preferredLanguage;
  const defs = new Map((at.spec.attributes ?? []).map((d) => [d.name, d]));
  const g: Generated = { values: {}, deliveries: [], subjectName: emp?.displayName ?? undefined };
  for (const name of c.names) {
    const value = oneTimePassword(defs.get(name)?.generated?.length ?? DEFAULT_PASSWORD_LENGTH, randomInt);
    g.values[name] = value;
    g.deliveries.push({
      attribute: name,
      value,
      recipient: manager.emails[0].toLowerCase(),
      recipientLang: langOf(typeof lang === "string" ? lang : undefined),
    });
  }
  return g;
}

const keyOf = (req: FastifyRequest) =>
  Buffer.from(hkdfSync("sha256", req.server.security.linkSecret, "", "ipsolis one-time secrets v1", 32));
/** How long a row may wait for its Order to appear (the API writes the row first, then the Order). */
const ORDER_GRACE_MS = 10 * 60_000;
/** What a sealed value is bound to: a row edited to another recipient no longer opens. */
const aadOf = (id: string, order: string, attribute: string, recipient: string) =>
  Buffer.from(`${id}\n${order}\n${attribute}\n${recipient.toLowerCase()}`, "utf8");
/**
 * Until when rows sealed before the recipient joined the binding (2026-12-07) may still open:
 * every such row expired by 2026-12-14 (7 days), so after this nothing opens with the old one.
 * A clock check, never a row's own data (which whoever could edit the row could change too).
 */
export const LEGACY_AAD_UNTIL = new Date("2026-12-15T00:00:00Z");
/** The binding of rows sealed before the recipient was part of it (read, never written). */
const legacyAadOf = (id: string, order: string, attribute: string) =>
  Buffer.from(`${id}\n${order}\n${attribute}`, "utf8");

function seal(
  req: FastifyRequest,
  at: { id: string; order: string; attribute: string; recipient: string },
  value: string,
): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", keyOf(req), iv);
  c.setAAD(aadOf(at.id, at.order, at.attribute, at.recipient));
  const enc = Buffer.concat([c.update(value, "utf8"), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), enc]);
}

/**
 * Opens a sealed value; throws when it cannot (another key, or a row edited). A row sealed
 * before the recipient joined the binding opens with the older one: its recipient is still
 * checked against the directory on every look (stillRecipient) before it gets here.
 */
function unseal(req: FastifyRequest, s: OneTimeSecret, sealed: Buffer): string {
  const open = (aad: Buffer) => {
    const d = createDecipheriv("aes-256-gcm", keyOf(req), sealed.subarray(0, 12));
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(12, 28));
    return Buffer.concat([d.update(sealed.subarray(28)), d.final()]).toString("utf8");
  };
  try {
    return open(aadOf(s.id, s.orderName, s.attribute, s.recipient));
  } catch (err) {
    if (req.server.deps.now() >= LEGACY_AAD_UNTIL) throw err;
    const v = open(legacyAadOf(s.id, s.orderName, s.attribute));
    req.log.warn(
      { secret: s.id, order: s.orderName },
      "one-time secret opened with the binding before recipients",
    );
    return v;
  }
}

/**
 * Records the deliveries of an Order about to be created (before it, see the header): sealed
 * rows, the manager's mail, the audit rows, in one transaction. Returns the handler for the
 * Order's creation failing (`.catch` it): it withdraws them and rethrows.
 */
export async function recordDeliveries(
  req: FastifyRequest,
  order: { name: string; assetType: string; what: string },
  who: { email: string; displayName?: string | undefined },
  g: Generated,
): Promise<(err: unknown) => Promise<never>> {
  if (g.deliveries.length === 0)
    return (err) => {
      throw err;
    };
  const subject = { email: who.email, displayName: g.subjectName ?? who.displayName };
  const { db, now, config } = req.server.deps;
  const p = principalOf(req);
  const at = now();
  const expiresAt = new Date(at.getTime() + ONE_TIME_TTL_MS);
  const email = channelNamesOf(config ?? {}).configured.includes("email");
  const ids: string[] = [];
  // One audit row per value, issued or withdrawn: who, for whom, who receives it; never the value.
  const auditDelivery = (c: Queryable, action: string, d: Delivery, extra: Record<string, unknown>) =>
    appendAudit(c, {
      actor: p.actor,
      action,
      target: `order:${order.name}`,
      order: order.name,
      requestId: req.id,
      source: p.role === "employee" ? "portal" : "api",
      data: { attribute: d.attribute, subject: subject.email, recipient: d.recipient, ...extra },
    });
  await withTransaction(db, async (c) => {
    for (const d of g.deliveries) {
      const id = randomBytes(18).toString("base64url");
      ids.push(id);
      await insertOneTimeSecret(c, {
        id,
        orderName: order.name,
        attribute: d.attribute,
        assetType: order.assetType,
        subject: subject.email,
        subjectName: subject.displayName ?? null,
        recipient: d.recipient,
        sealed: seal(req, { id, order: order.name, attribute: d.attribute, recipient: d.recipient }, d.value),
        createdAt: at,
        expiresAt,
      });
      await enqueue(
        c,
        {
          eventKey: `one_time_secret:${id}`,
          kind: "one_time_secret",
          recipient: d.recipient,
          // Mail only: a personal channel (a Teams or webhook channel is shared).
          channels: email ? ["email"] : [],
          lang: d.recipientLang,
          data: {
            order: order.name,
            assetType: order.what,
            requester: subject.displayName ? `${subject.displayName} (${subject.email})` : subject.email,
            secret: id,
            expiresAt: expiresAt.toISOString(),
          },
        },
        at,
      );
      await auditDelivery(c, "one_time_secret_issued", d, {
        expiresAt: expiresAt.toISOString(),
        mailed: email,
      });
    }
  });
  // The Order's creation failed with `err`: the values are wiped (the rows stay, so a link
  // already mailed says what happened), mails not yet sent are withdrawn, each withdrawal is
  // audited next to its issue, and `err` is rethrown.
  return async (err) => {
    await withTransaction(db, async (c) => {
      for (const [i, id] of ids.entries()) {
        if (!(await wipeOneTimeSecret(c, id, "OrderFailed"))) continue;
        await auditDelivery(c, "one_time_secret_withdrawn", g.deliveries[i]!, {
          reason: "the order could not be created",
        });
      }
      await c.query(
        `DELETE FROM notification_outbox WHERE event_key = ANY($1::text[]) AND state = 'pending'`,
        [ids.map((id) => `one_time_secret:${id}`)],
      );
    }).catch((undoErr: unknown) => {
      req.log.error(
        { err: undoErr, order: order.name },
        "could not withdraw the one-time secrets of an order never made",
      );
    });
    throw err;
  };
}

export const ONE_TIME_SECRET_STATES = [
  "Ready",
  "Waiting",
  "Revealed",
  "Expired",
  "OrderFailed",
  "RecipientChanged",
  "KeyChanged",
] as const;
export type OneTimeSecretState = (typeof ONE_TIME_SECRET_STATES)[number];
const WIPED: ReadonlySet<string> = new Set(["Expired", "OrderFailed", "RecipientChanged", "KeyChanged"]);

/** What the recipient sees of one value; `state` says whether it can be revealed now. */
export type OneTimeSecretView = {
  id: string;
  order: string;
  assetType: string;
  attribute: string;
  subject: string;
  subjectName: string | null;
  createdAt: Date;
  expiresAt: Date;
  revealedAt: Date | null;
  /**
   * Ready: can be revealed now. Waiting: its Order is not Provisioned yet (the value does not
   * work before). Gone for good: Revealed; Expired; OrderFailed (never set); RecipientChanged
   * (the directory no longer names this person the subject's active manager); KeyChanged (the
   * link secret was rotated, so the sealed value cannot be read).
   */
  state: OneTimeSecretState;
  orderPhase: string | null;
};

const DONE_BAD = new Set(["Failed", "Cancelled", "Revoked"]);

type StateDeps = Pick<FastifyRequest["server"]["deps"], "db" | "now" | "kc" | "namespace">;
type OrderGet = (name: string) => Promise<Cr<OrderSpec, OrderStatus> | undefined>;
type Wiped = "Expired" | "OrderFailed" | "RecipientChanged" | "KeyChanged";
const WIPE_WHY: Record<Wiped, string> = {
  Expired: "it expired unrevealed",
  OrderFailed: "its order did not complete, so the value was never set",
  RecipientChanged: "the directory no longer names the recipient the person's active manager",
  KeyChanged: "it was sealed under an earlier link secret and cannot be read",
};

/**
 * Wipes a value unrevealed and audits why (`one_time_secret_wiped`, next to its issue), in one
 * transaction; a value already gone (revealed or wiped a moment ago) is left as it is. Returns
 * whether this call wiped it.
 */
async function wipeAudited(
  deps: Pick<StateDeps, "db">,
  s: OneTimeSecret,
  reason: Wiped,
  requestId?: string,
): Promise<boolean> {
  return withTransaction(deps.db, async (c) => {
    if (!(await wipeOneTimeSecret(c, s.id, reason))) return false;
    await appendAudit(c, {
      actor: "system:api",
      action: "one_time_secret_wiped",
      target: `order:${s.orderName}`,
      order: s.orderName,
      ...(requestId ? { requestId } : {}),
      source: "api",
      data: {
        attribute: s.attribute,
        subject: s.subject,
        recipient: s.recipient,
        reason,
        why: WIPE_WHY[reason],
      },
    });
    return true;
  });
}

/**
 * Whether the directory still names `recipient` the active manager of `subject`: a manager
 * who changed (a mover) or left never receives the report's password.
 */
async function stillRecipient(q: Queryable, s: OneTimeSecret, subjectId?: string): Promise<boolean> {
  const { manager } = await subjectAndManager(q, { email: s.subject, id: subjectId });
  return !!manager?.active && manager.emails.some((e) => e.toLowerCase() === s.recipient);
}

/** The Order's phase and the value's state; wipes a value that can no longer be used. */
async function stateOf(
  deps: StateDeps,
  s: OneTimeSecret,
  getOrder: OrderGet = (name) => resourcesOf(deps).get<OrderSpec, OrderStatus>("Order", name),
): Promise<{ state: OneTimeSecretState; phase: string | null }> {
  const { db, now } = deps;
  const o = await getOrder(s.orderName);
  const phase = o?.status?.phase ?? null;
  if (s.revealedAt) return { state: "Revealed", phase };
  if (!s.live) {
    const reason = WIPED.has(s.wipedReason ?? "") ? s.wipedReason : "Expired";
    return { state: reason as OneTimeSecretState, phase };
  }
  const gone = async (state: Wiped) => {
    if (await wipeAudited(deps, s, state)) return { state, phase };
    // Revealed or wiped a moment ago by another look: say what happened to it.
    const now2 = await getOneTimeSecret(db, s.id);
    if (now2?.revealedAt) return { state: "Revealed" as const, phase };
    return {
      state: (WIPED.has(now2?.wipedReason ?? "") ? now2!.wipedReason : state) as OneTimeSecretState,
      phase,
    };
  };
  if (s.expiresAt <= now()) return gone("Expired");
  // Deleted, or never made (the API stopped between the row and the Order: the row waits a
  // while for it), or ended without the value set: it never worked, so nobody needs it.
  if (!o && now().getTime() - s.createdAt.getTime() > ORDER_GRACE_MS) return gone("OrderFailed");
  if (DONE_BAD.has(phase ?? "")) return gone("OrderFailed");
  if (!(await stillRecipient(db, s, o?.spec.requester.id))) return gone("RecipientChanged");
  return { state: phase === "Provisioned" ? "Ready" : "Waiting", phase };
}

/**
 * The periodic sweep: wipes every value that can no longer be revealed (expired, its Order
 * failed or gone, its recipient no longer the manager), so none outlives its use because
 * nobody opened the page. Returns how many it wiped.
 */
export async function sweepOneTimeSecrets(deps: StateDeps): Promise<number> {
  let wiped = 0;
  // One read per Order per sweep: an Order with several values is fetched once.
  const orders = new Map<string, ReturnType<OrderGet>>();
  const getOrder: OrderGet = (name) => {
    let o = orders.get(name);
    if (!o) orders.set(name, (o = resourcesOf(deps).get<OrderSpec, OrderStatus>("Order", name)));
    return o;
  };
  for (let after: OneTimeSecret | undefined, page: OneTimeSecret[]; ; after = page.at(-1)) {
    page = await liveOneTimeSecrets(deps.db, after);
    if (page.length === 0) return wiped;
    for (const s of page) {
      const st = await stateOf(deps, s, getOrder);
      if (st.state !== "Ready" && st.state !== "Waiting") wiped++;
    }
  }
}

/** Runs the sweep every `everyMs` (and once at start); returns the stop function. */
export function startOneTimeSecretSweep(
  deps: StateDeps & { log: FastifyRequest["server"]["deps"]["log"] },
  everyMs: number,
): () => Promise<void> {
  let running: Promise<unknown> | undefined;
  const tick = () => {
    if (running) return;
    running = sweepOneTimeSecrets(deps)
      .then((n) => {
        if (n > 0) deps.log.info({ wiped: n }, "one-time secrets wiped");
      })
      .catch((err: unknown) => deps.log.warn({ err }, "one-time secret sweep failed; the next tick retries"))
      .finally(() => (running = undefined));
  };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

function viewOf(
  s: OneTimeSecret,
  st: { state: OneTimeSecretState; phase: string | null },
): OneTimeSecretView {
  return {
    id: s.id,
    order: s.orderName,
    assetType: s.assetType,
    attribute: s.attribute,
    subject: s.subject,
    subjectName: s.subjectName,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    revealedAt: s.revealedAt,
    state: st.state,
    orderPhase: st.phase,
  };
}

/**
 * The recipient key of the caller: only an employee (the portal identity from the directory)
 * receives one-time secrets. A staff account's e-mail is set by a superadmin and proves nothing
 * about who the person is, so staff, tokens and Kubernetes identities see none (404).
 */
function mine(req: FastifyRequest): string | undefined {
  const p = principalOf(req);
  return p.role === "employee" && p.email ? p.email.toLowerCase() : undefined;
}

/** The values delivered to the signed-in person, newest first (past ones too, as a record). */
export async function myOneTimeSecrets(req: FastifyRequest): Promise<OneTimeSecretView[]> {
  const { db } = req.server.deps;
  const me = mine(req);
  if (!me) return [];
  const rows = await oneTimeSecretsFor(db, me);
  const out: OneTimeSecretView[] = [];
  for (const s of rows) out.push(viewOf(s, await stateOf(req.server.deps, s)));
  return out;
}

/** One value delivered to the signed-in person; 404 for anyone else's (or an unknown id). */
export async function myOneTimeSecret(req: FastifyRequest, id: string): Promise<OneTimeSecretView> {
  const s = await getOneTimeSecret(req.server.deps.db, id);
  const me = mine(req);
  if (!s || !me || s.recipient !== me) throw new NotFoundError(`one-time secret "${id}" not found`);
  return viewOf(s, await stateOf(req.server.deps, s));
}

/**
 * Reveals a value once to its recipient, signed in with a session (403 SessionRequired for a
 * token: a person reads it, not a script). 404 for anyone else; 409 NotReady before the Order is
 * Provisioned; 410 when revealed, expired or its Order failed. The value is wiped and the reveal
 * audited in one transaction.
 */
export async function revealOneTimeSecret(
  req: FastifyRequest,
  id: string,
): Promise<{ view: OneTimeSecretView; value: string }> {
  const p = principalOf(req);
  const view = await myOneTimeSecret(req, id);
  if (p.kind !== "session")
    throw new ForbiddenError("a one-time secret is revealed to a signed-in person, not a token", {
      reason: "SessionRequired",
    });
  if (view.state === "Waiting")
    throw new ConflictError(
      `order ${view.order} is ${view.orderPhase ?? "not yet processed"}: the value works once it is Provisioned, come back then`,
      { reason: "NotReady" },
    );
  if (view.state !== "Ready") throw goneOf(view);
  const { db, now } = req.server.deps;
  const s = (await getOneTimeSecret(db, id))!;
  const value = await withTransaction(db, async (c) => {
    const sealed = await takeOneTimeSecret(c, id, now());
    if (!sealed) return undefined;
    let v: string;
    try {
      v = unseal(req, s, sealed);
    } catch {
      // Sealed under an earlier link secret: nobody can read it any more. It was not revealed:
      // record why it is gone, so the page says so for good instead of failing on every try.
      await markUnreadableOneTimeSecret(c, id);
      await appendAudit(c, {
        actor: "system:api",
        action: "one_time_secret_wiped",
        target: `order:${s.orderName}`,
        order: s.orderName,
        requestId: req.id,
        source: "api",
        data: {
          attribute: s.attribute,
          subject: s.subject,
          recipient: s.recipient,
          reason: "KeyChanged",
          why: WIPE_WHY.KeyChanged,
        },
      });
      return null;
    }
    await appendAudit(c, {
      actor: p.actor,
      action: "one_time_secret_revealed",
      target: `order:${s.orderName}`,
      order: s.orderName,
      requestId: req.id,
      source: "portal",
      data: { attribute: s.attribute, subject: s.subject, recipient: s.recipient },
    });
    return v;
  });
  // Another tab revealed it a moment ago, or the sweep wiped it in between: say which.
  if (value === undefined) {
    const after = await getOneTimeSecret(db, id);
    const wiped = after?.wipedReason ?? "";
    const state: OneTimeSecretState = after?.revealedAt
      ? "Revealed"
      : WIPED.has(wiped)
        ? (wiped as OneTimeSecretState)
        : "Expired";
    throw goneOf({ ...view, state, revealedAt: after?.revealedAt ?? null });
  }
  if (value === null) {
    req.log.warn({ secret: id, order: s.orderName }, "one-time secret sealed under an earlier link secret");
    throw goneOf({ ...view, state: "KeyChanged" });
  }
  return { view: { ...view, state: "Revealed", revealedAt: now() }, value };
}

function goneOf(v: Pick<OneTimeSecretView, "state" | "revealedAt" | "order">): GoneError {
  const why =
    v.state === "Revealed"
      ? `it was revealed${v.revealedAt ? ` at ${v.revealedAt.toISOString()}` : ""}; it can be revealed once`
      : v.state === "Expired"
        ? "it expired unrevealed"
        : v.state === "RecipientChanged"
          ? "the directory no longer names you this person's active manager; the helpdesk can reset it again for the new one"
          : v.state === "KeyChanged"
            ? "ipsolis's link secret was changed since it was made, so it cannot be read; the helpdesk can reset it again"
            : `order ${v.order} did not complete, so the value was never set`;
  return new GoneError(`the one-time secret is gone: ${why}`, { reason: v.state });
}

/** For the portal's navigation: values ever sent to me, and those not yet revealed or gone. */
export async function myOneTimeSecretCounts(req: FastifyRequest): Promise<{ all: number; live: number }> {
  const me = mine(req);
  return me ? countOneTimeSecrets(req.server.deps.db, me, req.server.deps.now()) : { all: 0, live: 0 };
}
