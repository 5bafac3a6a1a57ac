// "You are deputising": the deputy is told when a delegation is set, written to the outbox in
// the same transaction as the delegation row (so it is sent once, or not at all with the row).
import { normName } from "../../crds/approval-policy.ts";
import type { Queryable } from "../../record/db.ts";
import { findEmployee } from "../../record/employees/store.ts";
import type { ChannelName } from "./channels.ts";
import { enqueue } from "./outbox.ts";
import { channelsFor } from "./settings.ts";
import { langOf } from "./templates.ts";

export async function notifyDelegationStarted(
  q: Queryable,
  d: {
    id: string;
    principal: string;
    deputy: string;
    startsAt: Date;
    endsAt: Date;
    reason?: string | undefined;
    channels: { configured: readonly ChannelName[]; defaults: readonly ChannelName[] };
    now: Date;
  },
): Promise<number> {
  const deputy = await findEmployee(q, d.deputy);
  const email = d.deputy.includes("@") ? normName(d.deputy) : deputy?.emails[0];
  if (!email) return 0;
  const principal = await findEmployee(q, d.principal);
  const lang = deputy?.resource.preferredLanguage;
  return enqueue(
    q,
    {
      eventKey: `delegation_started:${d.id}`,
      kind: "delegation_started",
      recipient: email,
      channels: channelsFor(undefined, d.channels),
      lang: langOf(typeof lang === "string" ? lang : undefined),
      data: {
        principal: principal?.displayName ? `${principal.displayName} (${d.principal})` : d.principal,
        startsAt: d.startsAt.toISOString(),
        endsAt: d.endsAt.toISOString(),
        ...(d.reason ? { reason: d.reason } : {}),
      },
    },
    d.now,
  );
}
