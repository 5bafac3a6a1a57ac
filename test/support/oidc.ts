// A real OpenID Connect provider for tests: the npm `oidc-provider` over HTTPS on loopback,
// mounted at /<tenant>/v2.0 like Entra ID, so @azure/msal-node runs in its production shape
// (authority https://127.0.0.1:<port>/<tenant>). It signs in whoever types a login at its dev
// login form; `users` gives each login its claims.
import { createServer, type Server } from "node:https";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair } from "jose";
import { Provider } from "oidc-provider";
import { testEnv } from "./env.ts";

export type TestIdp = {
  authority: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** PEM of the CA that signed the provider's certificate. */
  ca: string;
  certFile: string;
  stop(): Promise<void>;
};

export type IdpUser = { oid: string; email?: string; preferred_username?: string; name?: string };

export async function startTestIdp(opts: {
  redirectUris: string[];
  users: Record<string, IdpUser>;
  /** Directory with server.crt/server.key/ca.crt; default: the test run's control plane's. */
  certDir?: string;
  port?: number;
}): Promise<TestIdp> {
  // The control plane's serving certificate (SAN 127.0.0.1) and CA serve the provider too.
  const dir = opts.certDir ?? testEnv().cpDir;
  const [cert, key, ca] = await Promise.all([
    readFile(join(dir, "server.crt"), "utf8"),
    readFile(join(dir, "server.key"), "utf8"),
    readFile(join(dir, "ca.crt"), "utf8"),
  ]);
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const clientSecret = randomUUID() + randomUUID();
  const server: Server = createServer({ cert, key });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, "127.0.0.1", r));
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("no address");
  const prefix = `/${tenantId}/v2.0`;
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: "RS256", use: "sig", kid: randomUUID() };
  const provider = new Provider(`https://127.0.0.1:${addr.port}${prefix}`, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    jwks: { keys: [jwk] },
    pkce: { required: () => true },
    conformIdTokenClaims: false,
    claims: { openid: ["sub", "oid", "tid"], email: ["email"], profile: ["name", "preferred_username"] },
    cookies: { keys: [randomUUID()] },
    features: { devInteractions: { enabled: true } },
    findAccount: (_ctx, id) => {
      const u = opts.users[id];
      if (!u) return undefined;
      return {
        accountId: id,
        claims: () => ({ sub: id, tid: tenantId, ...u }),
      };
    },
  });
  const handler = provider.callback();
  server.on("request", (req, res) => {
    if (!req.url?.startsWith(prefix)) {
      res.writeHead(404).end();
      return;
    }
    // Mounted like Express would: originalUrl keeps the prefix so the provider's own URLs do.
    (req as typeof req & { originalUrl: string }).originalUrl = req.url;
    req.url = req.url.slice(prefix.length) || "/";
    void handler(req, res);
  });
  return {
    authority: `https://127.0.0.1:${addr.port}/${tenantId}`,
    tenantId,
    clientId,
    clientSecret,
    ca,
    certFile: join(dir, "server.crt"),
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
