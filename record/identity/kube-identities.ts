// Kubernetes usernames that act as an admin account (migration 0403): the kubectl plugin's
// kubeconfig sign-in. The cluster says who a token belongs to (api/plugins/kube-identity.ts);
// this table says which account that person acts as. One identity, at most one account.
import type { Queryable } from "../db.ts";
import { ConflictError } from "../errors.ts";
import type { StoredRole as AdminRole } from "./roles.ts";

export type KubeAccount = {
  id: string;
  username: string;
  email: string | null;
  role: AdminRole;
  disabled: boolean;
};

/** The Kubernetes usernames mapped to an account, sorted. */
export async function listKubeIdentities(q: Queryable, userId: string): Promise<string[]> {
  const r = await q.query<{ kube_username: string }>(
    "SELECT kube_username FROM kube_identities WHERE user_id = $1 ORDER BY kube_username",
    [userId],
  );
  return r.rows.map((x) => x.kube_username);
}

/**
 * Replaces an account's identities with `wanted`. An identity already mapped to another account
 * is refused (409 naming that account), not moved: moving who someone acts as is two explicit
 * changes.
 */
export async function replaceKubeIdentities(q: Queryable, userId: string, wanted: string[]): Promise<void> {
  const taken = await q.query<{ kube_username: string; username: string }>(
    `SELECT k.kube_username, u.username FROM kube_identities k JOIN users u ON u.id = k.user_id
      WHERE k.kube_username = ANY($1) AND k.user_id <> $2 ORDER BY k.kube_username`,
    [wanted, userId],
  );
  if (taken.rows.length > 0) {
    const list = taken.rows.map((r) => `${r.kube_username} (account ${r.username})`).join(", ");
    throw new ConflictError(`Kubernetes identity already acts as another account: ${list}`, {
      reason: "KubeIdentityTaken",
      details: { taken: taken.rows.map((r) => ({ kubeUsername: r.kube_username, account: r.username })) },
    });
  }
  await q.query("DELETE FROM kube_identities WHERE user_id = $1", [userId]);
  for (const k of wanted) {
    try {
      await q.query("INSERT INTO kube_identities (kube_username, user_id) VALUES ($1, $2)", [k, userId]);
    } catch (err) {
      // Another account took it between the check above and here.
      if ((err as { code?: string }).code !== "23505") throw err;
      throw new ConflictError(`Kubernetes identity already acts as another account: ${k}`, {
        cause: err,
        reason: "KubeIdentityTaken",
      });
    }
  }
}

/** The account a Kubernetes username acts as, with its current role and state. */
export async function accountOfKubeUser(
  q: Queryable,
  kubeUsername: string,
): Promise<KubeAccount | undefined> {
  const r = await q.query<KubeAccount>(
    `SELECT u.id::text AS id, u.username, u.email, u.role, u.disabled
       FROM kube_identities k JOIN users u ON u.id = k.user_id WHERE k.kube_username = $1`,
    [kubeUsername],
  );
  return r.rows[0];
}
