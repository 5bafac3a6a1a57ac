// Message texts: one template per kind, English and German, each a subject, a plain-text body
// and an HTML body. Pure: the outbox worker renders at delivery (so a capability URL is signed
// only then, never stored). The language is the recipient's SCIM preferredLanguage ("de",
// "de-CH" → German), English otherwise. HTML values are escaped with escape-html (ADR 0004).
import escapeHtml from "escape-html";

export type Lang = "en" | "de";
export const NOTIFICATION_KINDS = [
  "approval_requested",
  "approval_reminder",
  "approval_escalated",
  "approval_reassigned",
  "order_outcome",
  "delegation_started",
  "leaver_summary",
  "cost_alert",
  "one_time_secret",
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** What templates may show. Strings only: no objects reach a message. */
export type MessageData = {
  order?: string | undefined;
  assetType?: string | undefined;
  requester?: string | undefined;
  reason?: string | undefined;
  expiresAt?: string | undefined;
  /** approval_reminder: which reminder. */
  number?: string | undefined;
  /** approval_escalated / approval_reassigned: in whose place the recipient decides. */
  inPlaceOf?: string | undefined;
  /** order_outcome: Approved, Provisioned, Failed, Declined, Revoked, ApprovalExpired. */
  outcome?: string | undefined;
  /** order_outcome: the step's error, the decline comment, why it expired. */
  detail?: string | undefined;
  /** delegation_started */
  principal?: string | undefined;
  startsAt?: string | undefined;
  endsAt?: string | undefined;
  /** leaver_summary */
  leaver?: string | undefined;
  items?: string | undefined;
  /** cost_alert */
  costCenter?: string | undefined;
  amount?: string | undefined;
  threshold?: string | undefined;
  /** one_time_secret: the row's id (its portal page; the value never reaches a message). */
  secret?: string | undefined;
};

export type Rendered = {
  subject: string;
  text: string;
  html: string;
  /** Buttons (Teams card, HTML mail): label → URL. */
  actions: { title: string; url: string }[];
};

export function langOf(preferred: string | undefined | null): Lang {
  return preferred && /^de(\b|[-_])/i.test(preferred.trim()) ? "de" : "en";
}

type Texts = { subject: string; lines: string[] };

const outcomeWord: Record<Lang, Record<string, string>> = {
  en: {
    Approved: "was approved",
    Provisioned: "is ready",
    Failed: "failed",
    Declined: "was declined",
    Revoked: "was revoked",
    ApprovalExpired: "expired without a decision",
  },
  de: {
    Approved: "wurde genehmigt",
    Provisioned: "ist bereit",
    Failed: "ist fehlgeschlagen",
    Declined: "wurde abgelehnt",
    Revoked: "wurde entzogen",
    ApprovalExpired: "ist ohne Entscheidung abgelaufen",
  },
};

function texts(kind: NotificationKind, d: MessageData, lang: Lang): Texts {
  const what = d.assetType ?? "";
  const de = lang === "de";
  const req = [
    de ? `Bestellung: ${d.order}` : `Order: ${d.order}`,
    de ? `Was: ${what}` : `What: ${what}`,
    de ? `Für: ${d.requester}` : `For: ${d.requester}`,
    ...(d.reason ? [de ? `Begründung: ${d.reason}` : `Reason: ${d.reason}`] : []),
    ...(d.expiresAt ? [de ? `Entscheidung bis: ${d.expiresAt}` : `Decide by: ${d.expiresAt}`] : []),
  ];
  switch (kind) {
    case "approval_requested":
      return {
        subject: de
          ? `Genehmigung erbeten: ${what} für ${d.requester}`
          : `Approval requested: ${what} for ${d.requester}`,
        lines: [
          de
            ? "Bitte genehmigen oder ablehnen Sie diese Bestellung."
            : "Please approve or decline this order.",
          ...req,
        ],
      };
    case "approval_reminder":
      return {
        subject: de
          ? `Erinnerung ${d.number}: Genehmigung für ${what} (${d.requester}) steht aus`
          : `Reminder ${d.number}: approval of ${what} for ${d.requester} is waiting`,
        lines: [
          de
            ? "Diese Bestellung wartet noch auf Ihre Entscheidung."
            : "This order is still waiting for your decision.",
          ...req,
        ],
      };
    case "approval_escalated":
      return {
        subject: de
          ? `Eskaliert: Genehmigung für ${what} (${d.requester})`
          : `Escalated: approval of ${what} for ${d.requester}`,
        lines: [
          de
            ? `${d.inPlaceOf} hat nicht rechtzeitig entschieden. Sie können an dessen Stelle entscheiden.`
            : `${d.inPlaceOf} has not decided in time. You may decide in their place.`,
          ...req,
        ],
      };
    case "approval_reassigned":
      return {
        subject: de
          ? `Neu zugewiesen: Genehmigung für ${what} (${d.requester})`
          : `Reassigned to you: approval of ${what} for ${d.requester}`,
        lines: [
          de
            ? `${d.inPlaceOf} hat das Unternehmen verlassen. Die Entscheidung liegt jetzt bei Ihnen.`
            : `${d.inPlaceOf} has left the organisation. The decision is now yours.`,
          ...req,
        ],
      };
    case "order_outcome": {
      const word = outcomeWord[lang][d.outcome ?? ""] ?? d.outcome ?? "";
      return {
        subject: de ? `Ihre Bestellung ${what} ${word}` : `Your order for ${what} ${word}`,
        lines: [
          de ? `Bestellung ${d.order} (${what}) ${word}.` : `Order ${d.order} (${what}) ${word}.`,
          ...(d.detail ? [de ? `Details: ${d.detail}` : `Details: ${d.detail}`] : []),
        ],
      };
    }
    case "delegation_started":
      return {
        subject: de
          ? `Sie vertreten ${d.principal} bei Genehmigungen`
          : `You are deputising for ${d.principal} on approvals`,
        lines: [
          de
            ? `Von ${d.startsAt} bis ${d.endsAt} entscheiden Sie über Genehmigungen an Stelle von ${d.principal}.`
            : `From ${d.startsAt} to ${d.endsAt} you decide approvals in place of ${d.principal}.`,
          ...(d.reason ? [de ? `Grund: ${d.reason}` : `Reason: ${d.reason}`] : []),
        ],
      };
    case "one_time_secret":
      return {
        subject: de
          ? `Ein Einmalpasswort für ${d.requester} wartet auf Sie`
          : `A one-time password for ${d.requester} is waiting for you`,
        lines: [
          de
            ? `Für ${d.requester} wurde ein neues Passwort erstellt (${what}). Als Vorgesetzte:r erhalten Sie es, nicht die Person selbst und nicht der Helpdesk.`
            : `A new password was made for ${d.requester} (${what}). As their manager you receive it, not they themselves and not the helpdesk.`,
          de
            ? "Melden Sie sich im Portal an und zeigen Sie es einmal an, sobald die Änderung erledigt ist. Geben Sie es persönlich oder über einen vertrauenswürdigen Weg weiter; es muss bei der ersten Anmeldung geändert werden."
            : "Sign in to the portal and reveal it once, when the change is done. Hand it over in person or on a channel you trust; it must be changed at the first sign-in.",
          de ? `Anzeigbar bis: ${d.expiresAt}` : `Can be revealed until: ${d.expiresAt}`,
          de ? `Bestellung: ${d.order}` : `Order: ${d.order}`,
        ],
      };
    case "leaver_summary":
      return {
        subject: de
          ? `Austritt von ${d.leaver}: Zugänge werden entzogen`
          : `${d.leaver} is leaving: access is being taken back`,
        // One line per asset (items is one per line), or that there was nothing to take back.
        lines: d.items
          ? [
              de
                ? `Für ${d.leaver} werden diese Zugänge entzogen:`
                : `These assets of ${d.leaver} are being taken back:`,
              ...d.items.split("\n"),
            ]
          : [de ? `${d.leaver} hatte keine Zugänge in ipsolis.` : `${d.leaver} held no assets in ipsolis.`],
      };
    case "cost_alert":
      return {
        subject: de
          ? `Kostenschwelle überschritten: ${d.costCenter}`
          : `Cost threshold exceeded: ${d.costCenter}`,
        lines: [
          de
            ? `Kostenstelle ${d.costCenter}: ${d.amount} pro Monat, Schwelle ${d.threshold}.`
            : `Cost centre ${d.costCenter}: ${d.amount} per month, threshold ${d.threshold}.`,
        ],
      };
  }
}

/**
 * Renders one message. `link` is the recipient's own approval link (approval kinds only): the
 * buttons open its page with the decision preselected; the page's POST alone acts.
 */
export function renderMessage(
  kind: NotificationKind,
  d: MessageData,
  lang: Lang,
  link?: string,
  publicUrl?: string,
): Rendered {
  const t = texts(kind, d, lang);
  const de = lang === "de";
  const portal = publicUrl ? portalLinkOf(kind, d, publicUrl) : undefined;
  const actions = link
    ? [
        { title: de ? "Genehmigen" : "Approve", url: `${link}?decision=Approved` },
        { title: de ? "Ablehnen" : "Decline", url: `${link}?decision=Declined` },
      ]
    : [];
  const note = link
    ? de
      ? "Der Link gilt nur für Sie, einmal, und läuft ab. Öffnen zeigt die Bestellung; erst der Klick auf der Seite entscheidet."
      : "This link is yours alone, works once and expires. Opening it shows the order; only the button on that page decides."
    : undefined;
  const text = [
    ...t.lines,
    "",
    ...actions.map((a) => `${a.title}: ${a.url}`),
    ...(note ? ["", note] : []),
    ...(portal ? ["", `${de ? "Im Portal" : "In the portal"}: ${portal}`] : []),
    "",
    "— ipsolis",
  ].join("\n");
  const e = (s: string) => escapeHtml(s);
  const html = [
    `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>${e(t.subject)}</title></head><body>`,
    ...t.lines.map((l) => `<p>${e(l)}</p>`),
    actions.length
      ? `<p>${actions.map((a) => `<a href="${e(a.url)}">${e(a.title)}</a>`).join(" &middot; ")}</p>`
      : "",
    note ? `<p><small>${e(note)}</small></p>` : "",
    portal ? `<p><a href="${e(portal)}">${de ? "Im Portal öffnen" : "Open in the portal"}</a></p>` : "",
    "<p>— ipsolis</p></body></html>",
  ].join("\n");
  return { subject: t.subject, text, html, actions };
}

/** The portal page a message points to: the approvals inbox, or the order's own page. */
export function portalLinkOf(kind: NotificationKind, d: MessageData, publicUrl: string): string | undefined {
  if (kind.startsWith("approval_")) return new URL("/portal/approvals", publicUrl).toString();
  if (kind === "order_outcome" && d.order)
    return new URL(`/portal/orders/${encodeURIComponent(d.order)}`, publicUrl).toString();
  if (kind === "delegation_started") return new URL("/portal/delegation", publicUrl).toString();
  if (kind === "one_time_secret" && d.secret)
    return new URL(`/portal/secrets/${encodeURIComponent(d.secret)}`, publicUrl).toString();
  return undefined;
}
