// Employee sign-in with OpenID Connect, authorization code flow with PKCE, through
// @azure/msal-node in its production shape (Entra ID: authority https://<host>/<tenant>).
//
// msal-node does not verify the id token's signature, issuer, audience or expiry (checked on
// this machine, see PLATFORM.md), so we verify it ourselves with jose against the provider's
// JWKS before trusting a single claim.
import { ConfidentialClientApplication, CryptoProvider } from "@azure/msal-node";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import { request } from "node:https";
import { randomBytes } from "node:crypto";
import { UnauthenticatedError, UnavailableError } from "../../record/errors.ts";
import type { IdClaims, PendingLogin } from "./identity.ts";

export type OidcSettings = {
  /** e.g. https://login.microsoftonline.com/<tenant-id> */
  authority: string;
  clientId: string;
  clientSecret: string;
  /** Our callback, e.g. https://ipsolis.example.com/auth/oidc/callback */
  redirectUri: string;
  /** Extra CA (PEM) to trust for the provider, for private PKI and tests. */
  ca?: string | undefined;
};

type NetResponse<T> = { headers: Record<string, string>; body: T; status: number };

/** HTTPS with our CA for everything msal and the JWKS fetch send. */
function httpsJson<T>(
  url: string,
  ca: string | undefined,
  method: "GET" | "POST",
  opts?: { headers?: Record<string, string>; body?: string },
): Promise<NetResponse<T>> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers: opts?.headers ?? {}, ...(ca ? { ca } : {}), timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers))
            if (typeof v === "string") headers[k.toLowerCase()] = v;
          try {
            resolve({ headers, body: (text ? JSON.parse(text) : {}) as T, status: res.statusCode ?? 0 });
          } catch (err) {
            reject(
              new UnavailableError(`identity provider answered ${res.statusCode} with non-JSON`, {
                cause: err,
              }),
            );
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) =>
      reject(new UnavailableError(`identity provider unreachable: ${err.message}`, { cause: err })),
    );
    if (opts?.body) req.write(opts.body);
    req.end();
  });
}

type Discovery = { issuer: string; jwks_uri: string };

export type OidcClient = {
  beginLogin(returnTo: string): Promise<{ url: string; pending: PendingLogin }>;
  /** Exchanges the code, verifies the id token, and returns its claims. */
  completeLogin(code: string, pending: PendingLogin): Promise<IdClaims>;
  /** Integration health: fetches discovery and the signing keys afresh (throws when they fail). */
  probe(): Promise<void>;
  /** The provider's origin, for display (no secret in it). */
  readonly authority: string;
};

export function createOidcClient(s: OidcSettings): OidcClient {
  const authorityUrl = new URL(s.authority);
  const msal = new ConfidentialClientApplication({
    auth: {
      clientId: s.clientId,
      clientSecret: s.clientSecret,
      authority: s.authority,
      // Without this msal asks Microsoft's instance discovery about any non-Microsoft host.
      knownAuthorities: [authorityUrl.host],
    },
    system: {
      networkClient: {
        sendGetRequestAsync: <T>(url: string, o?: { headers?: Record<string, string> }) =>
          httpsJson<T>(url, s.ca, "GET", o),
        sendPostRequestAsync: <T>(url: string, o?: { headers?: Record<string, string>; body?: string }) =>
          httpsJson<T>(url, s.ca, "POST", o),
      },
    },
  });
  const crypto = new CryptoProvider();
  const scopes = ["openid", "profile", "email"];
  let keys: { discovery: Discovery; jwks: ReturnType<typeof createLocalJWKSet>; at: number } | undefined;

  async function verifier(force = false) {
    if (!keys || force || Date.now() - keys.at > 3600_000) {
      const base = s.authority.replace(/\/$/, "");
      const d = await httpsJson<Discovery>(`${base}/v2.0/.well-known/openid-configuration`, s.ca, "GET");
      if (d.status !== 200 || !d.body.issuer || !d.body.jwks_uri) {
        throw new UnavailableError(`identity provider discovery failed (${d.status})`);
      }
      const j = await httpsJson<JSONWebKeySet>(d.body.jwks_uri, s.ca, "GET");
      if (j.status !== 200) throw new UnavailableError(`identity provider JWKS fetch failed (${j.status})`);
      keys = { discovery: d.body, jwks: createLocalJWKSet(j.body), at: Date.now() };
    }
    return keys;
  }

  return {
    authority: authorityUrl.origin,
    async probe() {
      await verifier(true);
    },
    async beginLogin(returnTo) {
      const pkce = await crypto.generatePkceCodes();
      const state = randomBytes(24).toString("base64url");
      const nonce = randomBytes(24).toString("base64url");
      const url = await msal.getAuthCodeUrl({
        scopes,
        redirectUri: s.redirectUri,
        codeChallenge: pkce.challenge,
        codeChallengeMethod: "S256",
        state,
        nonce,
        responseMode: "query",
      });
      return { url, pending: { state, nonce, verifier: pkce.verifier, createdAt: Date.now(), returnTo } };
    },
    async completeLogin(code, pending) {
      const result = await msal
        // msal binds the id token to the nonce only when given the response payload too.
        .acquireTokenByCode(
          {
            code,
            scopes,
            redirectUri: s.redirectUri,
            codeVerifier: pending.verifier,
            nonce: pending.nonce,
            state: pending.state,
          },
          { code, state: pending.state },
        )
        .catch((err: unknown) => {
          // The provider's error code (e.g. invalid_grant) helps the person and the admin; it
          // carries no secret.
          const code = (err as { errorCode?: string }).errorCode;
          const detail = (err as { errorMessage?: string }).errorMessage?.split("\n")[0];
          throw new UnauthenticatedError(
            `the identity provider refused the sign-in code${code ? ` (${code}${detail ? `: ${detail}` : ""})` : ""}`,
            { cause: err },
          );
        });
      if (!result.idToken) throw new UnauthenticatedError("the identity provider sent no id token");
      let k = await verifier();
      const verify = () =>
        jwtVerify(result.idToken, k.jwks, {
          issuer: k.discovery.issuer,
          audience: s.clientId,
          clockTolerance: 60,
        });
      const verified = await verify()
        .catch(async (err: unknown) => {
          // A rotated signing key: refresh the JWKS once, then give up.
          if ((err as { code?: string }).code === "ERR_JWKS_NO_MATCHING_KEY") {
            k = await verifier(true);
            return verify();
          }
          throw err;
        })
        .catch((err: unknown) => {
          throw new UnauthenticatedError(`the id token did not verify: ${(err as Error).message}`, {
            cause: err,
          });
        });
      const claims = verified.payload as IdClaims;
      if (claims.nonce !== pending.nonce)
        throw new UnauthenticatedError("the id token's nonce does not match this sign-in");
      return claims;
    },
  };
}
