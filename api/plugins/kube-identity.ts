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
  | { ok: false; reason: "KubeTokenRejected" | "KubeReviewUnavailable"; message: string };

export type TokenReviewer = (token: string) => Promise<KubeReview>;

type TokenReviewAnswer = {
  status?: { authenticated?: boolean; user?: { username?: string; groups?: string[] }; error?: string };
};

/** Accepted answers are kept this long; refusals and failures a little, so retries see a fix. */
const ACCEPTED_MS = 30_000;
const REFUSED_MS = 5_000;
const MAX_ENTRIES = 1000;

export function makeTokenReviewer(kc: KubeConfig): TokenReviewer {
  let rest: Promise<Rest> | undefined;
  const cache = new Map<string, { until: number; review: KubeReview }>();

  async function ask(token: string): Promise<KubeReview> {
    try {
      rest ??= makeRest(kc, "ipsolis-api");
      const answer = await (
        await rest
      ).call<TokenReviewAnswer>({
        method: "POST",
        path: "/apis/authentication.k8s.io/v1/tokenreviews",
        body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } },
      });
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
      rest = undefined;
      const code = statusCodeOf(err);
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

  return async (token) => {
    const key = createHash("sha256").update(token, "utf8").digest("base64url");
    const t = performance.now();
    const hit = cache.get(key);
    if (hit && hit.until > t) return hit.review;
    const review = await ask(token);
    if (cache.size >= MAX_ENTRIES) {
      for (const [k, v] of cache) if (v.until <= t) cache.delete(k);
      if (cache.size >= MAX_ENTRIES) cache.clear();
    }
    cache.set(key, { until: t + (review.ok ? ACCEPTED_MS : REFUSED_MS), review });
    return review;
  };
}
