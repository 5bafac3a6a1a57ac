// Sign-in, first-run setup and self-service password change, shared by the JSON API
// (./index.ts) and the portal's forms (portal/). The edges: Postgres, PBKDF2, the audit log.
import type { FastifyReply, FastifyRequest } from "fastify";
import { withTransaction } from "../../../record/db.ts";
import { appendAudit } from "../../../record/audit.ts";
import {
  ConflictError,
  ForbiddenError,
  InputError,
  NotFoundError,
  UnauthenticatedError,
} from "../../../record/errors.ts";
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from "../../../record/identity/passwords.ts";
import { getSecuritySettings } from "../../../record/identity/settings.ts";
import {
  createUser,
  getUser,
  getUserByUsername,
  hasAnyAdmin,
  claimLoginAttempt,
  publicUser,
  recordFailedLogin,
  resetFailedLogins,
  updateUser,
  type User,
} from "../../../record/identity/users.ts";
import { createSession, deleteSession, deleteUserSessions } from "../../../record/identity/sessions.ts";
import { checkNewPassword } from "../../policy/accounts.ts";
import { principalOf, SESSION_COOKIE } from "../../plugins/auth.ts";

/** One message for unknown user, wrong password, disabled account: nothing to enumerate. */
export const LOGIN_FAILED = "invalid username or password";
export const LOGIN_LOCKED = "too many failed sign-ins: try again later";
export const LEGACY_KEY_PASSWORD_REFUSAL =
  "the legacy admin key has no password: rotate it by changing IPSOLIS_ADMIN_KEY in the API's environment (and restarting), or sign in with an admin account";

export function setSessionCookie(req: FastifyRequest, reply: FastifyReply, id: string): void {
  reply.setCookie(SESSION_COOKIE, id, {
    path: "/",
    httpOnly: true,
    secure: true,
    sameSite: "strict",
    maxAge: req.server.security.sessionHours * 3600,
  });
}

async function startSession(req: FastifyRequest, reply: FastifyReply, userId: string): Promise<void> {
  const { db, now } = req.server.deps;
  const expires = new Date(now().getTime() + req.server.security.sessionHours * 3600_000);
  setSessionCookie(req, reply, await createSession(db, { userId }, expires));
}

/**
 * Signs an admin in. PBKDF2 runs on every attempt (against a dummy hash for unknown names) and
 * locks count per username whether or not it exists, so neither the answer nor its timing
 * tells an attacker which accounts exist.
 */
export async function signIn(
  req: FastifyRequest,
  reply: FastifyReply,
  creds: { username: string; password: string },
  source: "api" | "portal",
): Promise<User> {
  const { db, now } = req.server.deps;
  const settings = await getSecuritySettings(db);
  const user = await getUserByUsername(db, creds.username);
  // Claimed before the slow hash, atomically: concurrent guesses cannot outrun the lockout.
  const { locked } = await claimLoginAttempt(db, creds.username, {
    threshold: settings.lockoutThreshold,
    now: now(),
  });
  // The hash runs on every path (locked, unknown, wrong) so timing reveals nothing.
  const passwordOk = await verifyPassword(user?.passwordHash ?? DUMMY_PASSWORD_HASH, creds.password);
  const signIns = req.server.metrics.signIns;
  if (locked) {
    signIns.inc({ method: "password", result: "locked" });
    throw new UnauthenticatedError(LOGIN_LOCKED, { reason: "LoginFailed" });
  }
  if (!user || user.disabled || !passwordOk) {
    const t = now();
    const lock = await recordFailedLogin(db, creds.username, {
      threshold: settings.lockoutThreshold,
      lockUntil: new Date(t.getTime() + settings.lockoutMinutes * 60_000),
      now: t,
    });
    if (lock) {
      await appendAudit(db, {
        actor: "system:api",
        action: "login_locked",
        target: `username:${creds.username}`,
        requestId: req.id,
        source,
        data: { lockedUntil: lock.toISOString() },
      });
      signIns.inc({ method: "password", result: "locked" });
      throw new UnauthenticatedError(LOGIN_LOCKED, { reason: "LoginFailed" });
    }
    signIns.inc({ method: "password", result: "failed" });
    throw new UnauthenticatedError(LOGIN_FAILED, { reason: "LoginFailed" });
  }
  await resetFailedLogins(db, creds.username);
  await startSession(req, reply, user.id);
  await appendAudit(db, {
    actor: `admin:${user.username}`,
    action: "login_succeeded",
    requestId: req.id,
    source,
  });
  signIns.inc({ method: "password", result: "succeeded" });
  return publicUser(user);
}

export async function signOut(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const sid = req.cookies[SESSION_COOKIE];
  if (sid) await deleteSession(req.server.deps.db, sid);
  reply.clearCookie(SESSION_COOKIE, { path: "/", httpOnly: true, secure: true, sameSite: "strict" });
}

export async function isFirstRun(req: FastifyRequest): Promise<boolean> {
  return !(await hasAnyAdmin(req.server.deps.db));
}

/** First run only: creates the first superadmin and signs them in. Afterwards this is a 404. */
export async function setUpFirstSuperadmin(
  req: FastifyRequest,
  reply: FastifyReply,
  input: { username: string; password: string; email?: string | undefined },
  source: "api" | "portal",
): Promise<User> {
  const { db } = req.server.deps;
  const settings = await getSecuritySettings(db);
  const check = checkNewPassword({ next: input.password, minLength: settings.passwordMinLength });
  if (!check.ok) throw new InputError(check.message, { reason: check.reason });
  const hash = await hashPassword(input.password);
  const user = await withTransaction(db, async (c) => {
    // Two first-run requests at once: the table lock makes the second one see the first's user.
    await c.query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE");
    if (await hasAnyAdmin(c)) throw new NotFoundError("Not Found");
    const u = await createUser(c, {
      username: input.username,
      email: input.email ?? null,
      role: "superadmin",
      passwordHash: hash,
    });
    await appendAudit(c, {
      actor: `admin:${u.username}`,
      action: "first_superadmin_created",
      target: `user:${u.username}`,
      requestId: req.id,
      source,
    });
    return u;
  });
  await startSession(req, reply, user.id);
  return user;
}

/**
 * Self-service password change: needs the current password, and a different new one meeting
 * the minimum. Other sessions of the account end. The audit row carries no password values.
 */
export async function changeOwnPassword(
  req: FastifyRequest,
  reply: FastifyReply,
  input: { currentPassword: string; newPassword: string },
  source: "api" | "portal",
): Promise<void> {
  const p = principalOf(req);
  if (p.kind === "legacy") throw new ForbiddenError(LEGACY_KEY_PASSWORD_REFUSAL, { reason: "LegacyKey" });
  if (p.kind !== "session" || p.userId === undefined) {
    throw new ForbiddenError("only a signed-in admin account can change its password", {
      reason: "NoPassword",
    });
  }
  const { db } = req.server.deps;
  const user = await getUser(db, p.userId);
  if (!user) throw new UnauthenticatedError("session expired or signed out: please sign in again");
  if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
    throw new InputError("the current password is wrong", { reason: "WrongCurrentPassword" });
  }
  const settings = await getSecuritySettings(db);
  const check = checkNewPassword({
    current: input.currentPassword,
    next: input.newPassword,
    minLength: settings.passwordMinLength,
  });
  if (!check.ok) throw new InputError(check.message, { reason: check.reason });
  const hash = await hashPassword(input.newPassword);
  await withTransaction(db, async (c) => {
    const locked = await getUser(c, user.id, { forUpdate: true });
    if (!locked || locked.passwordHash !== user.passwordHash) {
      throw new ConflictError("the password was changed concurrently: try again", { reason: "Concurrent" });
    }
    await updateUser(c, user.id, { passwordHash: hash });
    await deleteUserSessions(c, user.id, req.cookies[SESSION_COOKIE]);
    await appendAudit(c, {
      actor: p.actor,
      action: "password_changed_self",
      target: `user:${user.username}`,
      requestId: req.id,
      source,
    });
  });
  void reply;
}
