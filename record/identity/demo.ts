// Demo identity for `./dev up`: a superadmin with a random password and an API token, created
// only while no admin exists (never in a real installation that already has accounts).
import { randomBytes } from "node:crypto";
import type { Queryable } from "../db.ts";
import { hashPassword } from "./passwords.ts";
import { createUser, hasAnyAdmin } from "./users.ts";
import { createApiToken } from "./tokens.ts";

export async function seedDemoIdentity(
  q: Queryable,
): Promise<{ username: string; password: string; token: string } | undefined> {
  if (await hasAnyAdmin(q)) return undefined;
  const username = "admin";
  const password = randomBytes(12).toString("base64url");
  await createUser(q, {
    username,
    email: "admin@example.com",
    role: "superadmin",
    passwordHash: await hashPassword(password),
  });
  const { token } = await createApiToken(q, {
    name: "demo",
    role: "superadmin",
    scopes: ["admin:*"],
    createdBy: `admin:${username}`,
  });
  return { username, password, token };
}
