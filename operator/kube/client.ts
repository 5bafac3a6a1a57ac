// The Kubernetes client both processes use (the API reaches it through operator/index.ts),
// and the one place where client failures are translated into our typed errors.
import * as k8s from "@kubernetes/client-node";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnavailableError,
  UnprocessableError,
} from "../../record/errors.ts";

/**
 * Loads a kubeconfig file, or in-cluster / $KUBECONFIG defaults when no path is given.
 * `inClusterRoot` prefixes the in-cluster ServiceAccount files (token, ca.crt, namespace under
 * /var/run/secrets/kubernetes.io/serviceaccount): the local node, which runs the chart's pods
 * as local processes, writes the pod's projected volume there.
 */
export function loadKubeConfig(path?: string, inClusterRoot?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else if (inClusterRoot) kc.loadFromCluster(inClusterRoot);
  else kc.loadFromDefault();
  return kc;
}

type Status = {
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { message?: string; field?: string }[] };
};

function statusOf(err: k8s.ApiException<unknown>): Status {
  const body = err.body;
  if (typeof body === "string") {
    try {
      return JSON.parse(body) as Status;
    } catch (parseErr) {
      // Not a Status object (a proxy's HTML, say): keep the text as the message.
      return { message: parseErr instanceof SyntaxError ? body : String(body), code: err.code };
    }
  }
  return body ?? {};
}

/**
 * Translates a client-node failure into our errors, keeping the API server's own message
 * (e.g. `spec.size: Invalid value: 0: ... should be greater than or equal to 1`).
 */
export function translateKubeError(err: unknown, what: string): unknown {
  if (!(err instanceof k8s.ApiException)) {
    const code = (err as { code?: string }).code;
    if (code === "ECONNREFUSED" || code === "ETIMEDOUT" || code === "ECONNRESET") {
      return new UnavailableError(`Kubernetes API unavailable while ${what}`, { cause: err });
    }
    return err;
  }
  const s = statusOf(err);
  const msg = s.message ?? `Kubernetes API answered ${err.code} while ${what}`;
  switch (err.code) {
    case 404:
      return new NotFoundError(msg, { cause: err });
    case 409:
      return new ConflictError(msg, { cause: err, reason: s.reason ?? "Conflict" });
    case 400:
    case 422:
      return new UnprocessableError(msg, { cause: err, reason: s.reason ?? "Invalid" });
    case 403:
      return new ForbiddenError(msg, { cause: err });
    case 429:
      // API priority and fairness, or a watch cache still (re)initializing after a CRD was
      // created: the server asks us to come back, so it is transient, never a client error.
      return new UnavailableError(msg, { cause: err, reason: s.reason ?? "TooManyRequests" });
    default:
      return err.code >= 500 ? new UnavailableError(msg, { cause: err }) : err;
  }
}
