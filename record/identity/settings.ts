// Security settings kept in the `settings` table (changed by admins at run time), with the
// defaults the issue names: minimum password length 12, lockout after 5 failures for 15 minutes.
import { z } from "zod";
import type { Queryable } from "../db.ts";

export const SecuritySettings = z.object({
  passwordMinLength: z.number().int().min(8).max(256),
  lockoutThreshold: z.number().int().min(1).max(100),
  lockoutMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60),
});
export type SecuritySettings = z.infer<typeof SecuritySettings>;

export const DEFAULT_SECURITY_SETTINGS: SecuritySettings = {
  passwordMinLength: 12,
  lockoutThreshold: 5,
  lockoutMinutes: 15,
};

const KEY = "security";

export async function getSecuritySettings(q: Queryable): Promise<SecuritySettings> {
  const r = await q.query<{ value: unknown }>("SELECT value FROM settings WHERE key = $1", [KEY]);
  const stored = SecuritySettings.partial().safeParse(r.rows[0]?.value ?? {});
  return { ...DEFAULT_SECURITY_SETTINGS, ...(stored.success ? stored.data : {}) };
}

export async function putSecuritySettings(
  q: Queryable,
  patch: Partial<SecuritySettings>,
): Promise<{ before: SecuritySettings; after: SecuritySettings }> {
  const before = await getSecuritySettings(q);
  const after = SecuritySettings.parse({ ...before, ...patch });
  await q.query(
    `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, now())
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [KEY, JSON.stringify(after)],
  );
  return { before, after };
}
