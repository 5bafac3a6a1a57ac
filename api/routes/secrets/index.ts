// Route area: one-time secrets delivered to the signed-in person (#22, the password reset that
// goes to the manager), a thin declaration over api/orders/one-time-secrets.ts, which the
// portal's pages call too.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  myOneTimeSecret,
  myOneTimeSecrets,
  ONE_TIME_SECRET_STATES,
  revealOneTimeSecret,
  startOneTimeSecretSweep,
} from "../../orders/one-time-secrets.ts";

/** How often values that can no longer be revealed are wiped (nobody need open a page for it). */
const SWEEP_EVERY_MS = 60_000;

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
  state: z.enum(ONE_TIME_SECRET_STATES),
  orderPhase: z.string().nullable(),
});
const Params = z.object({ id: z.string().min(1).max(64) });

export const secretRoutes: FastifyPluginAsyncZod = async (app) => {
  let stopSweep: (() => Promise<void>) | undefined;
  app.addHook("onReady", async () => {
    stopSweep = startOneTimeSecretSweep(app.deps, SWEEP_EVERY_MS);
  });
  app.addHook("onClose", async () => {
    await stopSweep?.();
  });
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
