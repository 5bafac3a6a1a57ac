// mailpit (a real SMTP server with an HTTP API) on free loopback ports, for notification tests
// and ./dev up. Built once from the Go module proxy (test/support/mailpit-build.sh, cached
// under ~/.cache/ipsolis keyed by version). Tests read what a mailbox would show via its API.
import { execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

export async function buildMailpit(): Promise<string> {
  const { stdout } = await promisify(execFile)(join(here, "mailpit-build.sh"), { maxBuffer: 1 << 20 });
  return stdout.trim().split("\n").at(-1)!;
}

export async function startMailpit(opts: { smtpPort?: number } = {}): Promise<Mailpit> {
  const bin = await buildMailpit();
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
    ],
    { stdio: "ignore" },
  );
  const webUrl = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await fetch(`${webUrl}/api/v1/messages`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error("mailpit did not start within 15 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
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
