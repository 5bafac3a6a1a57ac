// The roles an admin account or API token can hold, as stored (the CHECK constraints of
// migration 0100). The rules about them live in api/policy/permissions.ts; record/ must not
// import api/, so the union is spelled out here too (a type test in api/policy keeps them equal).
export type StoredRole = "superadmin" | "admin" | "approver" | "auditor" | "helpdesk";
