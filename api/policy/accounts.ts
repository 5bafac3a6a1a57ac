// Account rules: the password policy for new passwords and the last-superadmin guard. Pure.
import type { AdminRole } from "./permissions.ts";

export type PasswordCheck = { ok: true } | { ok: false; reason: "TooShort" | "Unchanged"; message: string };

/** A new password meets the minimum length and differs from the current one. */
export function checkNewPassword(p: { current?: string; next: string; minLength: number }): PasswordCheck {
  if ([...p.next].length < p.minLength) {
    return {
      ok: false,
      reason: "TooShort",
      message: `the new password must have at least ${p.minLength} characters`,
    };
  }
  if (p.current !== undefined && p.current === p.next) {
    return { ok: false, reason: "Unchanged", message: "the new password must differ from the current one" };
  }
  return { ok: true };
}

export type AccountChange = { kind: "update"; role?: AdminRole; disabled?: boolean } | { kind: "delete" };

/**
 * The last active superadmin cannot be demoted, disabled or deleted: someone must always be
 * able to manage accounts and tokens.
 */
export function checkSuperadminGuard(
  target: { role: AdminRole; disabled: boolean },
  change: AccountChange,
  activeSuperadmins: number,
): { ok: true } | { ok: false; reason: "LastSuperadmin"; message: string } {
  const isActiveSuperadmin = target.role === "superadmin" && !target.disabled;
  if (!isActiveSuperadmin || activeSuperadmins > 1) return { ok: true };
  const losesIt =
    change.kind === "delete" ||
    (change.role !== undefined && change.role !== "superadmin") ||
    change.disabled === true;
  return losesIt
    ? {
        ok: false,
        reason: "LastSuperadmin",
        message: "the last active superadmin cannot be demoted, disabled or deleted",
      }
    : { ok: true };
}

/**
 * Nobody changes their own role or state (demote, disable, delete themselves), also not through
 * a token they minted: a slip would lock the session's own owner out. Another superadmin does it.
 * A no-op (the same role, `disabled: false` on an enabled account) is no change.
 */
export function checkSelfChange(
  actorAccountId: string | undefined,
  target: { id: string; role: AdminRole; disabled: boolean },
  change: AccountChange,
): { ok: true } | { ok: false; reason: "OwnAccount"; message: string } {
  if (actorAccountId === undefined || actorAccountId !== target.id) return { ok: true };
  const what =
    change.kind === "delete"
      ? "delete"
      : change.role !== undefined && change.role !== target.role
        ? "change the role of"
        : change.disabled !== undefined && change.disabled !== target.disabled
          ? change.disabled
            ? "disable"
            : "enable"
          : undefined;
  return what === undefined
    ? { ok: true }
    : {
        ok: false,
        reason: "OwnAccount",
        message: `you cannot ${what} your own account: ask another superadmin`,
      };
}
