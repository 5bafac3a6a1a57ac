// Shared by the AD integration tests: the bash LDAP samples (runbooks/ad-group-ldap-bash.yaml,
// runbooks/ad-account-ldap-bash.yaml) pointed at a test domain, one asset type per AD group, and
// waiting for an Order's end phase.
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { AssetType, Order, Runbook } from "../../crds/generated/index.ts";
import { SAMBA_DEBS, type AdDomain } from "../support/samba.ts";
import { condition, waitOrder } from "../operator/support.ts";

export const RUN_MS = 180_000;
export const SAMPLE = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "runbooks",
  "ad-group-ldap-bash.yaml",
);
/** The account lifecycle sample: enable, update (the mover's attributes), disable and move. */
export const ACCOUNT_SAMPLE = join(dirname(SAMPLE), "ad-account-ldap-bash.yaml");
export const KERBEROS_SECRET = "svc-ipsolis-keytab";

/** The domain, or a skip that says how to install Samba (like the browser tests without chromium). */
export function domainOrSkip(t: TestContext, ad: AdDomain | undefined): AdDomain | undefined {
  if (!ad) t.skip(`Samba AD DC not installed (apt-get install -y --no-install-recommends ${SAMBA_DEBS})`);
  return ad;
}

/**
 * The sample's AssetType and Runbooks, pointed at this domain (the sample names corp.example.com).
 * With `suffix`, every name gets `-<suffix>` and GROUP is `group`: one asset type per AD group.
 */
export async function catalogue(
  domain: AdDomain,
  opts: {
    /** The sample file (default: the group sample). */
    file?: string;
    group?: string;
    suffix?: string;
    stepParams?: Record<string, string>;
    /** Keep the sample's approval policy (default: None; approvals are tested elsewhere). */
    keepApproval?: boolean;
  } = {},
): Promise<(AssetType | Runbook)[]> {
  const group = opts.group ?? "VPN-Users";
  const rename = (n: string) => (opts.suffix ? `${n}-${opts.suffix}` : n);
  const docs = parseAllDocuments(await readFile(opts.file ?? SAMPLE, "utf8")).map(
    (d) => d.toJS() as AssetType | Runbook,
  );
  return docs.map((doc) => {
    const name = rename(doc.metadata?.name ?? "");
    if (doc.kind === "AssetType") {
      const { provision, modify, deprovision } = doc.spec.runbooks;
      // Approvals are tested elsewhere; these tests are about the directory.
      return {
        ...doc,
        metadata: { ...doc.metadata, name },
        spec: {
          ...doc.spec,
          ...(opts.suffix ? { displayName: `AD group ${group}` } : {}),
          ...(opts.keepApproval ? {} : { approval: { policy: "None" } }),
          runbooks: {
            provision: rename(provision),
            ...(modify ? { modify: rename(modify) } : {}),
            ...(deprovision ? { deprovision: rename(deprovision) } : {}),
          },
        },
      };
    }
    const value: Record<string, string> = {
      DC: domain.address,
      BASE_DN: domain.baseDn,
      MANAGED_OU: domain.managedOu,
      LEAVERS_OU: domain.leaversOu,
      GROUP: group,
      ...opts.stepParams,
    };
    return {
      ...doc,
      metadata: { ...doc.metadata, name },
      spec: {
        ...doc.spec,
        kerberos: { secretName: KERBEROS_SECRET, principal: domain.service.principal },
        steps: doc.spec.steps.map((s) => ({
          ...s,
          parameters: (s.parameters ?? []).map((p) => ({ ...p, value: value[p.name] ?? p.value })),
        })),
      },
    };
  });
}

/** Waits for an end phase, so a failure shows at once with its reason instead of a timeout. */
export async function settled(
  ns: string,
  name: string,
  want: "Provisioned" | "Revoked" | "Failed",
  ms = RUN_MS,
): Promise<Order> {
  const o = await waitOrder(
    ns,
    name,
    (x) => ["Provisioned", "Revoked", "Failed", "Cancelled"].includes(x.status?.phase ?? ""),
    ms,
  );
  assert.equal(o.status?.phase, want, condition(o, "Ready")?.message);
  return o;
}

export const adOrder = (
  name: string,
  assetType: string,
  requester: { id: string; email: string },
  more: Partial<Order["spec"]> = {},
) =>
  ({
    apiVersion: "ipsolis.io/v1alpha1",
    kind: "Order",
    metadata: { name },
    spec: { assetType, requester, attributes: { justification: "on call" }, ...more },
  }) as Order;

/**
 * A TCP proxy in front of the DC's KDC that the test can take down, whole or in part. With
 * "asOnly" it forwards AS requests (kinit gets its ticket) and cuts TGS requests (the service
 * ticket for ldap/<dc> a step asks for): the KDC goes away between the runner's kinit and the
 * step, without stopping LDAP. Kerberos over TCP frames each message with a 4-byte length
 * (RFC 4120 §7.2.2); the message's first byte is its APPLICATION tag, 0x6a AS-REQ, 0x6c TGS-REQ.
 */
export type KdcProxy = {
  readonly port: number;
  mode: "up" | "asOnly" | "down";
  /** Connections cut since start. */
  readonly cut: number;
  stop(): Promise<void>;
};

const AS_REQ = 0x6a;

export async function startKdcProxy(target: { host: string; port: number }): Promise<KdcProxy> {
  const sockets = new Set<Socket>();
  let cut = 0;
  const proxy = {
    port: 0,
    mode: "up" as KdcProxy["mode"],
    get cut() {
      return cut;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < 5) return;
      client.off("data", onData);
      client.pause();
      const allowed = proxy.mode === "up" || (proxy.mode === "asOnly" && head[4] === AS_REQ);
      if (!allowed) {
        cut++;
        client.resetAndDestroy();
        return;
      }
      const kdc = connect(target.port, target.host, () => {
        kdc.write(head);
        client.pipe(kdc);
        kdc.pipe(client);
        client.resume();
      });
      sockets.add(kdc);
      kdc.on("close", () => sockets.delete(kdc));
      kdc.on("error", () => client.destroy());
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.port = (server.address() as AddressInfo).port;
  return proxy;
}

/** The domain's krb5.conf with its KDC replaced by `kdc` (host:port). */
export function withKdc(domain: AdDomain, kdc: string): Pick<AdDomain, "service" | "krb5Conf"> {
  const krb5Conf = domain.krb5Conf.replace(/^(\s*kdc = ).*$/m, `$1${kdc}`);
  assert.notEqual(krb5Conf, domain.krb5Conf, "krb5.conf names a kdc");
  return { service: domain.service, krb5Conf };
}
