// One-time password pages (#22): the manager's list, one value with its Reveal button, the
// reveal itself (the value shown once, no-store). The pages call the same service functions as
// the JSON routes (/me/one-time-secrets). The employee's "Reset password" is on the order page
// (portal/employee-routes.ts).
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import {
  assetTypeOf,
  myOneTimeSecret,
  myOneTimeSecrets,
  revealOneTimeSecret,
  type OneTimeSecretView,
} from "../api/portal/index.ts";
import { ctxOf, send } from "./context.ts";
import { revealedPage, secretPage, secretsPage, type SecretRow } from "./pages/secrets.ts";
import { Form, messageOf, statusOf } from "./routes.ts";

const Id = z.object({ id: z.string().min(1).max(64) });

async function rowOf(req: FastifyRequest, v: OneTimeSecretView): Promise<SecretRow> {
  const at = await assetTypeOf(req, v.assetType);
  return {
    id: v.id,
    subject: v.subjectName ? `${v.subjectName} (${v.subject})` : v.subject,
    what: at?.spec.displayName ?? v.assetType,
    order: v.order,
    state: v.state,
    orderPhase: v.orderPhase,
    createdAt: v.createdAt,
    expiresAt: v.expiresAt,
    revealedAt: v.revealedAt,
  };
}

export const secretRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    "/portal/secrets",
    { config: { permission: "self" }, schema: { hide: true } },
    async (req, reply) => {
      const rows = [];
      for (const v of await myOneTimeSecrets(req)) rows.push(await rowOf(req, v));
      return send(reply, secretsPage(await ctxOf(req, reply), { rows }));
    },
  );

  app.get(
    "/portal/secrets/:id",
    { config: { permission: "self" }, schema: { hide: true, params: Id } },
    async (req, reply) => {
      const row = await rowOf(req, await myOneTimeSecret(req, req.params.id));
      return send(reply, secretPage(await ctxOf(req, reply), row));
    },
  );

  app.post(
    "/portal/secrets/:id/reveal",
    { config: { permission: "self" }, schema: { hide: true, params: Id, body: Form({}).optional() } },
    async (req, reply) => {
      try {
        const r = await revealOneTimeSecret(req, req.params.id);
        // send() marks every page no-store: the value stays in no cache.
        return send(reply, revealedPage(await ctxOf(req, reply), await rowOf(req, r.view), r.value));
      } catch (err) {
        const msg = messageOf(err);
        if (!msg || statusOf(err) === 404) throw err;
        const row = await rowOf(req, await myOneTimeSecret(req, req.params.id));
        return send(reply, secretPage(await ctxOf(req, reply), row, { error: msg }), statusOf(err));
      }
    },
  );
};
