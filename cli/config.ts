// Where the plugin connects and as whom: flags first, then IPSOLIS_URL / IPSOLIS_TOKEN; without
// a token (or with --kubeconfig / --context) the kubeconfig's identity (`kubeconfig.ts`). Parsed
// once at start (pure over the environment it is given); every problem is named in one message,
// never the token itself. The token travels in every request, so the URL must be https, or http
// to this machine (loopback), or http with --insecure; credentials in the URL are refused.
import { z } from "zod";
import type { ConnectionFlags } from "./args.ts";

export type Connection = Readonly<{ server: string; token: string }>;
/** The connection once the token is known, or the server and "ask the kubeconfig". */
export type LoadedConnection =
  | { ok: true; connection: Connection }
  | { ok: true; server: string; fromKubeconfig: true }
  | { ok: false; message: string };

const Server = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL, e.g. https://ipsolis.example.com" })
  .refine((u) => {
    const url = URL.parse(u);
    return url === null || (url.username === "" && url.password === "");
  }, "must not contain user:password@ credentials: the plugin authenticates with the API token")
  .transform((u) => u.replace(/\/+$/, ""));

/**
 * Whether a URL's host is this machine: localhost, 127.0.0.0/8 or ::1. The WHATWG URL parser
 * has already normalised the host (`127.1` and `0x7f.0.0.1` are `127.0.0.1`, IPv6 is bracketed).
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, "");
  return h === "localhost" || h === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
const Token = z
  .string()
  .trim()
  .min(1, "is empty")
  .refine((t) => !/\s/.test(t), "contains white space");

export function loadConnection(
  flags: ConnectionFlags,
  env: Readonly<Record<string, string | undefined>>,
): LoadedConnection {
  const server = flags.server ?? env.IPSOLIS_URL;
  // --token, then an explicit --kubeconfig/--context, then IPSOLIS_TOKEN, then the kubeconfig if
  // IPSOLIS_AUTH=kubeconfig says so. Never without being asked: a kubeconfig token is valid
  // against the cluster itself, so it goes only where the user chose to send it.
  const kubeFlag = flags.kubeconfig !== undefined || flags.context !== undefined;
  const token = flags.token ?? (kubeFlag ? undefined : env.IPSOLIS_TOKEN);
  const wantsKube =
    flags.token === undefined && (kubeFlag || ((token ?? "") === "" && env.IPSOLIS_AUTH === "kubeconfig"));
  const problems: string[] = [];
  if (server === undefined || server === "")
    problems.push("no API URL: pass --server or set IPSOLIS_URL (e.g. https://ipsolis.example.com)");
  const s = server ? Server.safeParse(server) : undefined;
  if (s && !s.success) problems.push(`the API URL ${s.error.issues[0]?.message ?? "is invalid"}`);
  if (s?.success && (!flags.insecure || wantsKube)) {
    const url = new URL(s.data);
    if (url.protocol === "http:" && !isLoopbackHost(url.hostname) && wantsKube)
      problems.push(
        `refusing to send your kubeconfig credential over plain http to ${url.host}, even with --insecure (it is valid against the cluster itself): use an https:// URL`,
      );
    else if (url.protocol === "http:" && !isLoopbackHost(url.hostname))
      problems.push(
        `refusing to send the API token over plain http to ${url.host}: use an https:// URL, or pass --insecure to allow it (http is allowed only to localhost, 127.0.0.0/8 and ::1)`,
      );
  }
  const t = token ? Token.safeParse(token) : undefined;
  // The message names the source, never the value.
  if (t && !t.success)
    problems.push(
      `the API token (${flags.token !== undefined ? "--token" : "IPSOLIS_TOKEN"}) ${t.error.issues[0]?.message ?? "is invalid"}`,
    );
  if (problems.length > 0 || !s?.success) return { ok: false, message: problems.join("\n") };
  if (wantsKube) return { ok: true, server: s.data, fromKubeconfig: true };
  if (token === undefined || token === "")
    return {
      ok: false,
      message:
        "no API token: pass --token or set IPSOLIS_TOKEN (an admin mints one with POST /admin/tokens), or sign in with your kubeconfig identity: --kubeconfig FILE, --context NAME or IPSOLIS_AUTH=kubeconfig",
    };
  if (!t?.success) return { ok: false, message: problems.join("\n") };
  return { ok: true, connection: Object.freeze({ server: s.data, token: t.data }) };
}
