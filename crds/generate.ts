// Generates TypeScript types from the CRD YAML in crds/ (the one source of truth).
// `--check` fails when the checked-in types differ from what the YAML generates.
// TODO(#11): the real generator lands with the CRDs.
process.stdout.write("crds: no CRDs yet\n");
