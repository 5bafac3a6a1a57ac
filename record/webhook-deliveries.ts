// The inbound webhook deliveries already accepted (migration 0130): Standard Webhooks' delivery
// id is claimed once per integration, so a replayed request is refused.
import type { Db } from "./db.ts";

/** Claims `id` for `integration`; false when it was claimed before (a replay or a re-send). */
export async function claimDelivery(db: Db, integration: string, id: string, at: Date): Promise<boolean> {
  await db.query("DELETE FROM webhook_deliveries WHERE received_at < $1", [
    new Date(at.getTime() - 24 * 3600_000),
  ]);
  const r = await db.query(
    `INSERT INTO webhook_deliveries (integration, delivery_id, received_at) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING`,
    [integration, id, at],
  );
  return r.rowCount === 1;
}

/** Gives a claim back: the request failed, so the sender's retry with the same id is accepted. */
export async function releaseDelivery(db: Db, integration: string, id: string): Promise<void> {
  await db.query("DELETE FROM webhook_deliveries WHERE integration = $1 AND delivery_id = $2", [
    integration,
    id,
  ]);
}
