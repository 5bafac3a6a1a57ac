// The index labels every Order carries so that one person's pages never LIST the whole
// namespace (docs/decisions/0010-portal-read-model.md): the requester's and the manager's
// e-mail, hashed (label values allow 63 chars of [a-z0-9._-], an e-mail does not fit, and a
// hash shows no personal data to anyone who can list labels). Pure.
import { createHash } from "node:crypto";

export const REQUESTER_LABEL = "ipsolis.io/requester-key";
export const MANAGER_LABEL = "ipsolis.io/manager-key";

/** A person's index key: sha256 of the trimmed, lower-cased e-mail, 40 hex digits (160 bits). */
export function personKey(email: string): string {
  return createHash("sha256").update(email.trim().toLowerCase(), "utf8").digest("hex").slice(0, 40);
}

/** The index labels of an Order with this requester. */
export function orderIndexLabels(requester: {
  email?: string;
  manager?: string | undefined;
}): Record<string, string> {
  return {
    ...(requester.email ? { [REQUESTER_LABEL]: personKey(requester.email) } : {}),
    ...(requester.manager ? { [MANAGER_LABEL]: personKey(requester.manager) } : {}),
  };
}
