// Reads the labels of the Secrets a runbook references (metadata only: the operator never needs
// a Secret's data) and refuses the run when one is missing or not labelled for runbook use.
import { ForbiddenError } from "../../record/errors.ts";
import { refusedSecretRefs, secretRefsOf } from "../order/job.ts";
import type { Runbook } from "../order/model.ts";
import { statusCodeOf, type Rest } from "../kube/rest.ts";

const METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/** Throws a ForbiddenError (permanent: condition + Warning event) naming every refused Secret. */
export async function assertRunbookSecretsAllowed(rest: Rest, namespace: string, rb: Runbook): Promise<void> {
  const labels = new Map<string, Record<string, string> | null>();
  for (const name of secretRefsOf(rb)) {
    try {
      const m = await rest.call<{ metadata?: { labels?: Record<string, string> } }>({
        method: "GET",
        path: `/api/v1/namespaces/${namespace}/secrets/${encodeURIComponent(name)}`,
        accept: METADATA_ONLY,
      });
      labels.set(name, m.metadata?.labels ?? {});
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
      labels.set(name, null);
    }
  }
  const refused = refusedSecretRefs(rb, (n) => labels.get(n));
  if (refused) throw new ForbiddenError(refused);
}
