// Route area: one-time secrets delivered to the signed-in person (#22, the password reset that
// goes to the manager), a thin declaration over api/orders/one-time-secrets.ts, which the
// portal's pages call too.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { myOneTimeSecret, myOneTimeSecrets, revealOneTimeSecret } from "../../orders/one-time-secrets.ts";

const View = z.object({
  id: z.string(),
  order: z.string(),
  assetType: z.string(),
  attribute: z.string(),
  subject: z.string(),
  subjectName: z.string().nullable(),
  createdAt: z.date(),
  expiresAt: z.date(),
  revealedAt: z.date().nullable(),
  state: z.enum(["Ready", "Waiting", "Revealed", "Expired", "OrderFailed"]),
  orderPhase: z.string().nullable(),
});
const Params = z.object({ id: z.string().min(1).max(64) });

export const secretRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    "/me/one-time-secrets",
    { config: { permission: "self" }, schema: { response: { 200: z.object({ items: z.array(View) }) } } },
    async (req) => ({ items: await myOneTimeSecrets(req) }),
  );
  app.get(
    "/me/one-time-secrets/:id",
    { config: { permission: "self" }, schema: { params: Params, response: { 200: View } } },
    async (req) => myOneTimeSecret(req, req.params.id),
  );
  app.post(
    "/me/one-time-secrets/:id/reveal",
    {
      config: { permission: "self" },
      schema: {
        params: Params,
        body: z.object({}).optional(),
        response: { 200: View.extend({ value: z.string() }) },
      },
    },
    async (req, reply) => {
      const r = await revealOneTimeSecret(req, req.params.id);
      // Nobody keeps a copy: not a browser cache, not a proxy.
      reply.header("cache-control", "no-store");
      return { ...r.view, value: r.value };
    },
  );
};
