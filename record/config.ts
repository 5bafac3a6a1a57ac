// Parse a process's configuration once at start: one zod schema per process, frozen, passed
// down. No other code reads process.env. A bad value stops start-up listing every bad variable.
import { z } from "zod";
import { ConfigError } from "./errors.ts";

export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): Readonly<z.infer<S>> {
  const r = schema.safeParse(env);
  if (!r.success) throw new ConfigError(`invalid configuration:\n${z.prettifyError(r.error)}`);
  return Object.freeze(r.data);
}
