// Route area: AssetTypes and Runbooks as custom resources (issue #5): thin declarations over
// the catalogue service (api/catalog/service.ts), which holds the ACL, runbook scope, deletion
// and audit rules. The console pages call the same service.
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Cr } from "../../plugins/resources.ts";
import { ASSET_TYPES, catalogService, RUNBOOKS, runbookRuns, type Area } from "../../catalog/service.ts";
import { K8sName } from "./schemas.ts";

const View = z.object({
  name: z.string(),
  spec: z.record(z.string(), z.unknown()),
  status: z.record(z.string(), z.unknown()).optional(),
  resourceVersion: z.string().optional(),
});
const view = (o: Cr<object>) => ({
  name: o.metadata.name,
  spec: o.spec as Record<string, unknown>,
  ...(o.status ? { status: o.status as Record<string, unknown> } : {}),
  ...(o.metadata.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}),
});

function registerArea(app: Parameters<FastifyPluginAsyncZod>[0], a: Area): void {
  const svc = catalogService(app.deps, a);
  const Params = z.object({ name: K8sName });

  app.get(
    `/${a.path}`,
    { config: { permission: a.read }, schema: { response: { 200: z.object({ items: z.array(View) }) } } },
    async (req) => ({ items: (await svc.list(req)).map(view) }),
  );

  app.get(
    `/${a.path}/:name`,
    { config: { permission: a.read }, schema: { params: Params, response: { 200: View } } },
    async (req) => view((await svc.get(req, req.params.name)).o),
  );

  app.put(
    `/${a.path}/:name`,
    {
      config: { permission: a.write },
      schema: { params: Params, body: z.object({ spec: a.spec }), response: { 200: View, 201: View } },
    },
    async (req, reply) => {
      const { o, created } = await svc.put(req, req.params.name, req.body.spec);
      return reply.code(created ? 201 : 200).send(view(o));
    },
  );

  app.post(
    `/${a.path}/:name/clone`,
    {
      config: { permission: a.write },
      schema: { params: Params, body: z.object({ name: K8sName }), response: { 201: View } },
    },
    async (req, reply) => reply.code(201).send(view(await svc.clone(req, req.params.name, req.body.name))),
  );

  app.delete(
    `/${a.path}/:name`,
    {
      config: { permission: a.write },
      schema: {
        params: Params,
        querystring: z.object({ force: z.enum(["true", "false"]).optional() }),
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      await svc.remove(req, req.params.name, req.query.force === "true");
      return reply.code(204).send(null);
    },
  );
}

export const catalogRoutes: FastifyPluginAsyncZod = async (app) => {
  registerArea(app, ASSET_TYPES);
  registerArea(app, RUNBOOKS);

  const Step = z.object({
    name: z.string(),
    state: z.string(),
    exitCode: z.number().int().optional(),
    message: z.string().optional(),
  });
  const Run = z.object({
    job: z.string(),
    cronJob: z.string().optional(),
    state: z.enum(["Succeeded", "Failed"]),
    startedAt: z.string().optional(),
    finishedAt: z.string(),
    reason: z.string().optional(),
    steps: z.array(Step),
  });
  app.get(
    "/runbooks/:name/runs",
    {
      config: { permission: RUNBOOKS.read },
      schema: {
        params: z.object({ name: K8sName }),
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(10) }),
        response: { 200: z.object({ items: z.array(Run) }) },
      },
    },
    async (req) => ({
      items: (await runbookRuns(app.deps, req, req.params.name, req.query.limit)).map((r) => ({
        job: r.job,
        ...(r.cronJob ? { cronJob: r.cronJob } : {}),
        state: r.state,
        ...(r.startedAt ? { startedAt: r.startedAt.toISOString() } : {}),
        finishedAt: r.finishedAt.toISOString(),
        ...(r.reason ? { reason: r.reason } : {}),
        steps: r.steps.map((s) => ({
          name: s.name,
          state: s.state,
          ...(typeof s.exitCode === "number" ? { exitCode: s.exitCode } : {}),
          ...(s.message ? { message: s.message } : {}),
        })),
      })),
    }),
  );
};
