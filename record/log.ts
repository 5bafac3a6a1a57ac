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

/**
 * Capabilities that travel in URLs: one-click approval links carry theirs in the path, the
 * OpenID Connect callback its code and state in the query. Request logs keep the route, not them.
 */
export function redactUrl(url: string): string {
  return url
    .replace(/^(\/approve\/)[^/?#]+/, "$1[redacted]")
    .replace(/([?&](?:code|state|token|access_token|id_token|session_state)=)[^&#]*/gi, "$1[redacted]");
}

type LoggedRequest = {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
};

/**
 * Fastify's request serializer (method, url, host, address), with the URL redacted. A
 * logger's own serializers win over Fastify's defaults, so every request log line uses this.
 */
export function serializeRequest(req: LoggedRequest) {
  return {
    method: req.method,
    url: typeof req.url === "string" ? redactUrl(req.url) : req.url,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

export function createLogger(
  opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    serializers: { req: serializeRequest },
    base: opts.name ? { name: opts.name } : {},
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

export type { Logger };
