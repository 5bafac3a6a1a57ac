// The plugin's help texts, one per command, as `kubectl <cmd> --help` prints them: what it does,
// an example, its flags. Pure data; `args.ts` chooses which one a usage error or --help shows.

export const COMMANDS = [
  "get",
  "approve",
  "decline",
  "logs",
  "cancel",
  "revoke",
  "leaver",
  "verify-audit",
] as const;
export type CommandName = (typeof COMMANDS)[number];

const CONNECTION = `Connection flags (every command):
      --server='': the ipsolis API's URL (default $IPSOLIS_URL); https, or http only to localhost,
          127.0.0.0/8 or ::1; never with user:password@
      --token='': an API token, "ips_…" (default $IPSOLIS_TOKEN; prefer the variable: flags show in ps)
      --kubeconfig='': sign in as this kubeconfig's current user instead of an API token (or set
          IPSOLIS_AUTH=kubeconfig to use $KUBECONFIG or ~/.kube/config); https or loopback only
      --context='': the kubeconfig context whose user signs in
      --insecure=false: allow a plain http:// URL to another host (the token then travels unencrypted)
      --request-timeout='30s': how long to wait for one API request before giving up: a duration with
          its unit (30s, 2m, 1h) or 0 for no limit (verify-audit: default 10m)
  -h, --help: help for the command`;

export const TOP_USAGE = `kubectl ipsolis: orders, approvals, step logs, leavers and the audit chain, through the ipsolis API.

Commands:
  get orders      List orders: phase and whom a pending one waits for
  approve ORDER   Approve a pending order (as the token's or kubeconfig identity's account)
  decline ORDER   Decline a pending order, with a comment
  logs ORDER      Print an order's step output (-f follows it until the order finishes)
  cancel ORDER    Cancel an order that has not started
  revoke ORDER    Revoke a provisioned asset (creates its Deprovision order)
  leaver plan P   Show what a leaver event for person P would cancel and revoke (dry run)
  verify-audit    Verify the audit log's hash chain (exit 1 when it is broken)

Usage:
  kubectl ipsolis <command> [flags]

${CONNECTION}

Use "kubectl ipsolis <command> --help" for more about a command.
Exit codes: 0 done; 1 the API refused or the operation failed (its message is printed); 2 usage
error, missing token or URL, an http URL refused, or the API cannot be reached or does not answer
within --request-timeout.`;

export const COMMAND_USAGE: Record<CommandName, string> = {
  get: `List orders the token may see, newest first.

Examples:
  kubectl ipsolis get orders
  kubectl ipsolis get orders -o wide
  kubectl ipsolis get order vpn-emp-1a2b3c -o json

Columns: NAME, ASSET TYPE, FOR (the person), PHASE, WAITING FOR (PendingApproval: who has not
approved yet: "a or b" when any one will do, "a, b" when both must, "2 of a, b, c"; "unreachable: …"
when the approvers left cannot meet the quorum, or the requester is their own manager), AGE.
-o wide adds ACTION, TARGET and MESSAGE.

Usage:
  kubectl ipsolis get orders [NAME] [flags]

Flags:
  -n, --namespace='': only orders in this namespace (the API serves one namespace)
  -A, --all-namespaces=false: show the NAMESPACE column
  -o, --output='': json or wide

${CONNECTION}`,

  approve: `Approve a pending order. The API checks that you are one of its approvers and that
separation of duties holds (nobody approves their own order or one of a type they changed).

Examples:
  kubectl ipsolis approve vpn-emp-1a2b3c
  kubectl ipsolis approve vpn-emp-1a2b3c --comment "ok for the project"

Usage:
  kubectl ipsolis approve ORDER [flags]

Flags:
      --comment='': a comment kept with the decision
  -o, --output='': json prints the order after the decision

${CONNECTION}`,

  decline: `Decline a pending order; the comment says why and is shown to the requester.

Examples:
  kubectl ipsolis decline vpn-emp-1a2b3c --comment "no licence budget left this quarter"

Usage:
  kubectl ipsolis decline ORDER --comment TEXT [flags]

Flags:
      --comment='': why (required)
  -o, --output='': json prints the order after the decision

${CONNECTION}`,

  logs: `Print an order's step output: every attempt's Job, step by step. Terminal control sequences
in the output (colours, cursor moves, titles) are not printed.

Examples:
  kubectl ipsolis logs vpn-emp-1a2b3c
  kubectl ipsolis logs vpn-emp-1a2b3c -f

Usage:
  kubectl ipsolis logs ORDER [flags]

Flags:
  -f, --follow=false: keep printing new output (live) until the order is Provisioned, Cancelled or
          Revoked; a Failed order is followed on, for a retry (Ctrl-C to stop)

${CONNECTION}`,

  cancel: `Cancel an order that has not started (PendingApproval or Scheduled).

Examples:
  kubectl ipsolis cancel vpn-emp-1a2b3c

Usage:
  kubectl ipsolis cancel ORDER [flags]

Flags:
  -o, --output='': json prints the order

${CONNECTION}`,

  revoke: `Revoke a provisioned asset: creates its Deprovision order ORDER-deprovision (once; a second
revoke finds the first one's order).

Examples:
  kubectl ipsolis revoke vpn-emp-1a2b3c --reason "project ended"

Usage:
  kubectl ipsolis revoke ORDER [flags]

Flags:
      --reason='': why, kept on the Deprovision order
  -o, --output='': json prints the Deprovision order

${CONNECTION}`,

  leaver: `Show what a leaver event for a person would do, without doing it (the HR leaver dry run):
which pending orders it would cancel and which assets it would revoke.

Examples:
  kubectl ipsolis leaver plan jdoe
  kubectl ipsolis leaver plan jdoe@example.com -o json

Usage:
  kubectl ipsolis leaver plan PERSON [flags]

PERSON is any one identifier: user name, e-mail, UPN, employee id or external id.

Flags:
  -o, --output='': json prints the API's answer

${CONNECTION}`,

  "verify-audit": `Verify the audit log's hash chain through the API (every row, and the anchors the operator
keeps). Exit 0 when intact; exit 1 naming the first broken link. One verification runs at a
time: while one runs, another is refused (exit 1, AuditVerificationRunning). It walks every row,
so it may wait up to 10 minutes by default (--request-timeout).

Examples:
  kubectl ipsolis verify-audit
  kubectl ipsolis verify-audit -o json

Usage:
  kubectl ipsolis verify-audit [flags]

Flags:
  -o, --output='': json prints the API's answer

${CONNECTION}`,
};
