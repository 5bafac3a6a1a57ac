// mailpit (a real SMTP server with an HTTP API) on free loopback ports, for notification tests
// and ./dev up. Built once from the Go module proxy (test/support/mailpit-build.sh, cached
// under ~/.cache/ipsolis keyed by version). Tests read what a mailbox would show via its API.
import { execFile, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort } from "../cluster/control-plane.ts";
import { eventually } from "./kube.ts";

const here = dirname(fileURLToPath(import.meta.url));

export type MailpitMessage = { ID: string; Subject: string; To: { Address: string }[] };
export type Mailpit = {
  smtpPort: number;
  webUrl: string;
  /** Messages addressed to this e-mail address, newest first. */
  messagesTo(addr: string): Promise<MailpitMessage[]>;
  /** One message's Subject, Text and HTML. */
  message(id: string): Promise<{ Subject: string; Text: string; HTML: string }>;
  stop(): Promise<void>;
};

export async function buildMailpit(): Promise<string> {
  const { stdout } = await promisify(execFile)(join(here, "mailpit-build.sh"), { maxBuffer: 1 << 20 });
  return stdout.trim().split("\n").at(-1)!;
}

export async function startMailpit(opts: { smtpPort?: number } = {}): Promise<Mailpit> {
  const bin = await buildMailpit();
  // A port freePort found can be taken by a parallel test before mailpit binds it; mailpit then
  // exits at once. Such a start is retried on fresh ports; a slow or broken one says why.
  let last = "";
  for (let attempt = 1; attempt <= 5; attempt++) {
    const smtpPort = opts.smtpPort ?? (await freePort());
    const httpPort = await freePort();
    const child = spawn(
      bin,
      [
        "--smtp",
        `127.0.0.1:${smtpPort}`,
        "--listen",
        `127.0.0.1:${httpPort}`,
        "--smtp-auth-accept-any",
        "--smtp-auth-allow-insecure",
        "--disable-version-check",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-2000);
    });
    const webUrl = `http://127.0.0.1:${httpPort}`;
    const state = await eventually(
      `mailpit on ${webUrl}`,
      async () => {
        const ok = await fetch(`${webUrl}/api/v1/messages`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return "up";
        return child.exitCode !== null ? "exited" : undefined;
      },
      30_000,
    ).catch((err: unknown) => {
      child.kill("SIGKILL");
      throw new Error(`${err instanceof Error ? err.message : String(err)}; mailpit said: ${stderr.trim()}`);
    });
    if (state === "up") return handle(child, smtpPort, webUrl);
    last = `mailpit exited ${child.exitCode} on attempt ${attempt}: ${stderr.trim()}`;
  }
  throw new Error(last);
}

function handle(child: ReturnType<typeof spawn>, smtpPort: number, webUrl: string): Mailpit {
  return {
    smtpPort,
    webUrl,
    async messagesTo(addr) {
      const r = await fetch(`${webUrl}/api/v1/search?query=${encodeURIComponent(`to:${addr}`)}`);
      return ((await r.json()) as { messages: MailpitMessage[] }).messages;
    },
    async message(id) {
      const r = await fetch(`${webUrl}/api/v1/message/${id}`);
      return (await r.json()) as { Subject: string; Text: string; HTML: string };
    },
    async stop() {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await gone;
    },
  };
}
