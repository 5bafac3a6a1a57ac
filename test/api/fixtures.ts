// Valid specs for the catalog tests.
export function assetTypeSpec(over: Record<string, unknown> = {}) {
  return {
    displayName: "Microsoft 365 E3",
    category: "Licences",
    assignment: { model: "AssignedPersonal" },
    approval: { policy: "Approvers", approvers: ["ann@example.com", "bert"], quorum: 1 },
    cost: { amountPerMonth: "12.50", currency: "EUR", costCenter: "IT-100" },
    runbooks: { provision: "m365-provision", deprovision: "m365-deprovision" },
    attributes: [
      { name: "mailboxSize", type: "enum", enum: ["50GB", "100GB"] },
      { name: "initialPassword", type: "string", secret: true },
    ],
    entitlement: { everyone: true },
    ...over,
  };
}

export function runbookSpec() {
  return {
    description: "adds the user to the licence group",
    image: "ghcr.io/ipsolis/runner:1",
    steps: [
      {
        name: "add",
        shell: "bash",
        script: "echo add",
        parameters: [{ name: "apiKey", valueFrom: { secretKeyRef: { name: "m365", key: "apiKey" } } }],
      },
    ],
  };
}
