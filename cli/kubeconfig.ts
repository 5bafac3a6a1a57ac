// The kubeconfig identity (issue #21): when asked to (--kubeconfig, --context or
// IPSOLIS_AUTH=kubeconfig; config.ts) the plugin signs in as the kubeconfig's current user, the way kubectl would: a bearer token, a token file, an exec
// credential plugin (e.g. kubelogin, aws eks get-token) or an auth provider. The API asks the
// cluster who the token belongs to (TokenReview) and acts as the admin account a superadmin
// mapped that username to. Client certificates cannot be forwarded and are refused by name.
// client-node is loaded only on this path, so token users do not pay for it.

import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export type KubeconfigFlags = { kubeconfig?: string; context?: string };

export type KubeconfigToken =
  { ok: true; token: string; user: string; context: string } | { ok: false; message: string };

export async function kubeconfigToken(
  flags: KubeconfigFlags,
  env: Readonly<Record<string, string | undefined>>,
): Promise<KubeconfigToken> {
  const file = flags.kubeconfig ?? env.KUBECONFIG;
  const home = env.HOME ?? homedir();
  if (
    file === undefined &&
    env.KUBERNETES_SERVICE_HOST === undefined &&
    !existsSync(join(home, ".kube", "config"))
  ) {
    return {
      ok: false,
      message:
        "no kubeconfig to sign in with (no --kubeconfig, $KUBECONFIG or ~/.kube/config): pass one, or use an API token (--token or IPSOLIS_TOKEN)",
    };
  }
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  try {
    // KUBECONFIG may list several files (":"-separated), as kubectl merges them.
    if (flags.kubeconfig !== undefined) kc.loadFromFile(flags.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    return {
      ok: false,
      message: `cannot read the kubeconfig${file ? ` ${file}` : ""}: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  if (flags.context !== undefined) {
    if (!kc.getContextObject(flags.context))
      return { ok: false, message: `no context "${flags.context}" in the kubeconfig` };
    kc.setCurrentContext(flags.context);
  }
  const context = kc.getCurrentContext();
  const user = kc.getCurrentUser();
  if (!context || !user) {
    return {
      ok: false,
      message:
        "no API token and no kubeconfig user: pass --token or set IPSOLIS_TOKEN, or use a kubeconfig whose current context has a user",
    };
  }
  const options: { headers?: Record<string, unknown> } = {};
  try {
    await kc.applyToHTTPSOptions(options);
  } catch (err) {
    return {
      ok: false,
      message: `kubeconfig user "${user.name}" (context ${context}): getting its credentials failed: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  const auth = options.headers?.Authorization ?? options.headers?.authorization;
  const m = typeof auth === "string" ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  if (!m?.[1]) {
    return {
      ok: false,
      message: `kubeconfig user "${user.name}" (context ${context}) has no bearer token (a client certificate cannot be passed on to the ipsolis API): pass --token or set IPSOLIS_TOKEN`,
    };
  }
  return { ok: true, token: m[1], user: user.name, context };
}
