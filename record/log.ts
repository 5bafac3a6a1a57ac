// JSON logs to stdout with pino. Secret-bearing fields are redacted wherever they appear, so a
// careless `log.info({ req })` cannot leak a token, password, cookie or keytab.
import { pino, type Logger, type LoggerOptions } from "pino";

export const REDACT_PATHS = [
  "password",
  "*.password",
  "currentPassword",
  "*.currentPassword",
  "newPassword",
  "*.newPassword",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "authorization",
  "*.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers['x-admin-key']",
  "req.headers['x-hub-signature-256']",
  "res.headers['set-cookie']",
  "headers.authorization",
  "headers.cookie",
  "body",
  "*.body",
];

export function createLogger(
  opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: opts.name ? { name: opts.name } : {},
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

export type { Logger };
