// Who a Kubernetes bearer token belongs to (issue #21: `kubectl ipsolis` signs in with the
// user's kubeconfig identity). The API asks the cluster with a TokenReview
// (authentication.k8s.io/v1) and gets the username and groups the API server itself would use,
// whatever authenticates it: ServiceAccount tokens, OIDC ID tokens, webhook token
// authenticators. Which admin account that username acts as is the record's business
// (record/identity/kube-identities.ts). Answers are cached for a short while by the token's
// hash (never the token), so a busy plugin session costs one review per half minute.
import { createHash } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import { makeRest, statusCodeOf, type Rest } from "../../operator/kube/rest.ts";

export type KubeReview =
  | { ok: true; username: string; groups: string[] }
  | {
      ok: false;
      reason: "KubeTokenRejected" | "KubeReviewUnavailable" | "KubeReviewBusy";
      message: string;
    };

export type TokenReviewer = (token: string) => Promise<KubeReview>;

type TokenReviewAnswer = {
  status?: { authenticated?: boolean; user?: { username?: string; groups?: string[] }; error?: string };
};

/** Accepted answers are kept this long; refusals and failures a little, so retries see a fix. */
const ACCEPTED_MS = 30_000;
const REFUSED_MS = 5_000;
const MAX_ENTRIES = 1000;
/** Reviews in flight at once (beyond: refused as busy), and how long one may take. */
const MAX_IN_FLIGHT = 8;
const REVIEW_TIMEOUT_MS = 5_000;

export function makeTokenReviewer(
  kc: KubeConfig,
  log?: { warn(obj: object, msg: string): void },
): TokenReviewer {
  let rest: Promise<Rest> | undefined;
  const cache = new Map<string, { until: number; review: KubeReview }>();

  async function ask(token: string): Promise<KubeReview> {
    try {
      // Made once and kept (one keep-alive agent); made again only if making it failed.
      rest ??= makeRest(kc, "ipsolis-api").catch((err: unknown) => {
        rest = undefined;
        throw err;
      });
      const client = await rest;
      let timer: NodeJS.Timeout | undefined;
      const answer = await Promise.race([
        client.call<TokenReviewAnswer>({
          method: "POST",
          path: "/apis/authentication.k8s.io/v1/tokenreviews",
          body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } },
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("TokenReview timed out")), REVIEW_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      const user = answer.status?.user;
      if (answer.status?.authenticated === true && user?.username) {
        return { ok: true, username: user.username, groups: user.groups ?? [] };
      }
      return {
        ok: false,
        reason: "KubeTokenRejected",
        message: "invalid token: neither an ipsolis API token (ips_…) nor one the Kubernetes cluster accepts",
      };
    } catch (err) {
      const code = statusCodeOf(err);
      // The HTTP status, or a network error's first line: never the token or an answer's body.
      log?.warn(
        code !== undefined
          ? { status: code }
          : { err: (err instanceof Error ? err.message : String(err)).split("\n")[0] },
        "TokenReview failed",
      );
      return {
        ok: false,
        reason: "KubeReviewUnavailable",
        message:
          code === 403
            ? "cannot check a Kubernetes identity: the API's ServiceAccount may not create tokenreviews (the chart's api.kubernetesIdentity grants it)"
            : "cannot check a Kubernetes identity: the Kubernetes API did not answer the TokenReview",
      };
    }
  }

  // One review per token at a time (callers of the same token share it), and a bounded number
  // in all: a flood of made-up tokens costs the cluster at most MAX_IN_FLIGHT requests at once.
  const inFlight = new Map<string, Promise<KubeReview>>();

  function remember(key: string, review: KubeReview): void {
    const t = performance.now();
    if (cache.size >= MAX_ENTRIES) {
      // Expired entries first, then refusals; accepted answers go last.
      for (const [k, v] of cache) if (v.until <= t) cache.delete(k);
      if (cache.size >= MAX_ENTRIES) for (const [k, v] of cache) if (!v.review.ok) cache.delete(k);
      if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
    }
    cache.set(key, { until: t + (review.ok ? ACCEPTED_MS : REFUSED_MS), review });
  }

  return async (token) => {
    const key = createHash("sha256").update(token, "utf8").digest("base64url");
    const hit = cache.get(key);
    if (hit && hit.until > performance.now()) return hit.review;
    const running = inFlight.get(key);
    if (running) return running;
    if (inFlight.size >= MAX_IN_FLIGHT) {
      return {
        ok: false,
        reason: "KubeReviewBusy",
        message: "too many Kubernetes identities are being checked at once: try again in a moment",
      };
    }
    const review = ask(token)
      .then((r) => {
        remember(key, r);
        return r;
      })
      .finally(() => inFlight.delete(key));
    inFlight.set(key, review);
    return review;
  };
}
