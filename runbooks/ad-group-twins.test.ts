// The AD group runbooks' two flavours (issue #22): the PowerShell one (ad-group-membership.yaml,
// PSOpenAD) pinned to the bash one (ad-group-ldap-bash.yaml, ldapmodify -Y GSSAPI) that the tests
// run against a real Samba AD DC; the checks are in twins.ts.
import { testTwins } from "./twins.ts";

await testTwins("AD group", { pwsh: "ad-group-membership.yaml", bash: "ad-group-ldap-bash.yaml" });
