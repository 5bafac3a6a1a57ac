// The SCIM schemas this server speaks (RFC 7643 §4.1 core User, §4.3 enterprise extension,
// §4.2 Group): tables of attribute definitions drive the filter evaluator (caseExact, types), the
// PATCH engines (paths, mutability), input normalisation and the /Schemas discovery documents. Pure.

export const CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User";
export const CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
export const SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
export const RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
export const SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema";

export type AttrType = "string" | "boolean" | "decimal" | "integer" | "dateTime" | "reference" | "complex";
export type Mutability = "readOnly" | "readWrite" | "immutable" | "writeOnly";
export type Returned = "always" | "never" | "default" | "request";

export type AttrDef = {
  name: string;
  type: AttrType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: Mutability;
  returned: Returned;
  uniqueness: "none" | "server" | "global";
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttrDef[];
};

function attr(
  name: string,
  type: AttrType,
  description: string,
  more: Partial<Omit<AttrDef, "name" | "type" | "description">> = {},
): AttrDef {
  return {
    name,
    type,
    description,
    multiValued: false,
    required: false,
    caseExact: false,
    mutability: "readWrite",
    returned: "default",
    uniqueness: "none",
    ...more,
  };
}

/** The sub-attributes every multi-valued complex attribute of the core schema has (§2.4). */
function multi(name: string, description: string, valueType: AttrType = "string"): AttrDef {
  return attr(name, "complex", description, {
    multiValued: true,
    subAttributes: [
      attr("value", valueType, `The ${name} value.`),
      attr("display", "string", "A human-readable name, primarily used for display purposes."),
      attr("type", "string", "A label indicating the attribute's function, e.g. 'work' or 'home'."),
      attr("primary", "boolean", "Whether this is the primary value; at most one value is primary."),
    ],
  });
}

export const CORE_ATTRIBUTES: readonly AttrDef[] = [
  attr("userName", "string", "Unique identifier for the User, typically used to sign in (the UPN).", {
    required: true,
    uniqueness: "server",
  }),
  attr("name", "complex", "The components of the user's real name.", {
    subAttributes: [
      attr("formatted", "string", "The full name, formatted for display."),
      attr("familyName", "string", "The family name (last name)."),
      attr("givenName", "string", "The given name (first name)."),
      attr("middleName", "string", "The middle name(s)."),
      attr("honorificPrefix", "string", "The honorific prefix(es), e.g. 'Ms.'."),
      attr("honorificSuffix", "string", "The honorific suffix(es), e.g. 'III'."),
    ],
  }),
  attr("displayName", "string", "The name of the User, suitable for display to end-users."),
  attr("nickName", "string", "The casual way to address the user."),
  attr("profileUrl", "reference", "A URI of the user's online profile.", { referenceTypes: ["external"] }),
  attr("title", "string", "The user's title, such as 'Vice President'."),
  attr("userType", "string", "The relationship between the organization and the user, e.g. 'Employee'."),
  attr("preferredLanguage", "string", "The user's preferred written or spoken language."),
  attr("locale", "string", "The user's default location for localisation."),
  attr("timezone", "string", "The user's time zone in IANA format, e.g. 'Europe/Berlin'."),
  attr("active", "boolean", "The user's administrative status; false makes the user a leaver."),
  attr("password", "string", "Never stored or returned by this server.", {
    mutability: "writeOnly",
    returned: "never",
  }),
  multi("emails", "Email addresses for the user."),
  multi("phoneNumbers", "Phone numbers for the user."),
  multi("ims", "Instant messaging addresses for the user."),
  multi("photos", "URLs of photos of the user.", "reference"),
  attr("addresses", "complex", "A physical mailing address for this user.", {
    multiValued: true,
    subAttributes: [
      attr("formatted", "string", "The full mailing address."),
      attr("streetAddress", "string", "The full street address component."),
      attr("locality", "string", "The city or locality component."),
      attr("region", "string", "The state or region component."),
      attr("postalCode", "string", "The zip code or postal code component."),
      attr("country", "string", "The country name component."),
      attr("type", "string", "A label indicating the attribute's function, e.g. 'work'."),
      attr("primary", "boolean", "Whether this is the primary address."),
    ],
  }),
  attr("groups", "complex", "Groups the user belongs to; change them through the Group resource.", {
    multiValued: true,
    mutability: "readOnly",
    subAttributes: [
      attr("value", "string", "The id of the Group.", { mutability: "readOnly" }),
      attr("$ref", "reference", "The URI of the Group.", {
        mutability: "readOnly",
        referenceTypes: ["Group"],
      }),
      attr("display", "string", "The Group's displayName.", { mutability: "readOnly" }),
      attr("type", "string", "How the user is a member: always 'direct' (no nested groups).", {
        mutability: "readOnly",
        canonicalValues: ["direct"],
      }),
    ],
  }),
  multi("entitlements", "Entitlements of the user."),
  multi("roles", "Roles of the user."),
  multi("x509Certificates", "Certificates of the user."),
];

export const ENTERPRISE_ATTRIBUTES: readonly AttrDef[] = [
  attr("employeeNumber", "string", "Numeric or alphanumeric identifier assigned by HR."),
  attr("costCenter", "string", "Identifies the name of a cost center."),
  attr("organization", "string", "Identifies the name of an organization."),
  attr("division", "string", "Identifies the name of a division."),
  attr("department", "string", "Identifies the name of a department."),
  attr("manager", "complex", "The user's manager (its SCIM id, or an identifier as sent by the IdP).", {
    subAttributes: [
      attr("value", "string", "The id of the SCIM resource representing the user's manager."),
      attr("$ref", "reference", "The URI of the manager's SCIM resource.", { referenceTypes: ["User"] }),
      attr("displayName", "string", "The displayName of the user's manager.", { mutability: "readOnly" }),
    ],
  }),
];

/**
 * The core Group (RFC 7643 §4.2). displayName is required and, here, unique (case-insensitive):
 * AssetType entitlements name groups by it. Members are Users only (no nested groups).
 */
export const GROUP_ATTRIBUTES: readonly AttrDef[] = [
  attr("displayName", "string", "A human-readable name for the Group; unique, case-insensitive.", {
    required: true,
    uniqueness: "server",
  }),
  attr("members", "complex", "The members of the Group (Users only).", {
    multiValued: true,
    subAttributes: [
      attr("value", "string", "The id of the member's User resource.", { mutability: "immutable" }),
      attr("$ref", "reference", "The URI of the member's User resource.", {
        mutability: "immutable",
        referenceTypes: ["User"],
      }),
      attr("display", "string", "The member's displayName (or userName).", { mutability: "readOnly" }),
      attr("type", "string", "The member's resource type.", {
        mutability: "immutable",
        canonicalValues: ["User"],
      }),
    ],
  }),
];

/** Attributes common to every resource (RFC 7643 §3.1), addressable in filters but never written. */
export const COMMON_ATTRIBUTES: readonly AttrDef[] = [
  attr("id", "string", "Server-assigned identifier.", {
    caseExact: true,
    mutability: "readOnly",
    returned: "always",
    uniqueness: "server",
  }),
  attr("externalId", "string", "Identifier assigned by the provisioning client.", { caseExact: true }),
  attr("meta", "complex", "Resource metadata.", {
    mutability: "readOnly",
    subAttributes: [
      attr("resourceType", "string", "The resource type.", { caseExact: true, mutability: "readOnly" }),
      attr("created", "dateTime", "When the resource was added.", { mutability: "readOnly" }),
      attr("lastModified", "dateTime", "When the resource was last changed.", { mutability: "readOnly" }),
      attr("location", "reference", "The URI of the resource.", { mutability: "readOnly" }),
      attr("version", "string", "The resource's ETag.", { caseExact: true, mutability: "readOnly" }),
    ],
  }),
];

export type ResolvedAttr = {
  /** Schema URN the attribute belongs to ("" for the common attributes). */
  schema: string;
  def: AttrDef;
};

function findIn(list: readonly AttrDef[], name: string): AttrDef | undefined {
  const n = name.toLowerCase();
  return list.find((a) => a.name.toLowerCase() === n);
}

/**
 * Resolves an attribute name, optionally qualified by a schema URN, case-insensitively
 * (RFC 7643 §2.1: attribute names are case insensitive). Unknown → undefined.
 */
export function resolveAttr(schema: string | undefined, name: string): ResolvedAttr | undefined {
  const s = schema?.toLowerCase();
  if (s === undefined || s === CORE_USER.toLowerCase()) {
    const common = findIn(COMMON_ATTRIBUTES, name);
    if (common) return { schema: "", def: common };
    const core = findIn(CORE_ATTRIBUTES, name);
    if (core) return { schema: CORE_USER, def: core };
  }
  if (s === undefined || s === ENTERPRISE_USER.toLowerCase()) {
    const ent = findIn(ENTERPRISE_ATTRIBUTES, name);
    // Unqualified enterprise names are accepted in filters only (no clash with the core names).
    if (ent) return { schema: ENTERPRISE_USER, def: ent };
  }
  return undefined;
}

export function resolveSub(def: AttrDef, sub: string): AttrDef | undefined {
  return def.subAttributes ? findIn(def.subAttributes, sub) : undefined;
}

/** Schema discovery document (RFC 7643 §7) for one of our schemas. */
export function schemaDocument(id: string, baseUrl: string): Record<string, unknown> | undefined {
  const render = (a: AttrDef): Record<string, unknown> => {
    const { subAttributes, ...rest } = a;
    return subAttributes ? { ...rest, subAttributes: subAttributes.map(render) } : { ...rest };
  };
  const meta = (sid: string) => ({ resourceType: "Schema", location: `${baseUrl}/Schemas/${sid}` });
  if (id.toLowerCase() === CORE_USER.toLowerCase()) {
    return {
      schemas: [SCHEMA_SCHEMA],
      id: CORE_USER,
      name: "User",
      description: "User Account (an employee who can order assets)",
      attributes: CORE_ATTRIBUTES.map(render),
      meta: meta(CORE_USER),
    };
  }
  if (id.toLowerCase() === CORE_GROUP.toLowerCase()) {
    return {
      schemas: [SCHEMA_SCHEMA],
      id: CORE_GROUP,
      name: "Group",
      description: "Group (AssetType entitlements name groups; members are Users)",
      attributes: GROUP_ATTRIBUTES.map(render),
      meta: meta(CORE_GROUP),
    };
  }
  if (id.toLowerCase() === ENTERPRISE_USER.toLowerCase()) {
    return {
      schemas: [SCHEMA_SCHEMA],
      id: ENTERPRISE_USER,
      name: "EnterpriseUser",
      description: "Enterprise User",
      attributes: ENTERPRISE_ATTRIBUTES.map(render),
      meta: meta(ENTERPRISE_USER),
    };
  }
  return undefined;
}

export const SCHEMA_IDS = [CORE_USER, ENTERPRISE_USER, CORE_GROUP] as const;

export function serviceProviderConfig(baseUrl: string, maxResults: number): Record<string, unknown> {
  return {
    schemas: [SPC_SCHEMA],
    documentationUri: `${baseUrl}/Schemas`,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "API token",
        description: "A bearer API token with the `scim` scope (Authorization: Bearer ips_…).",
        specUri: "https://www.rfc-editor.org/info/rfc6750",
        primary: true,
      },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${baseUrl}/ServiceProviderConfig` },
  };
}

/** Users are employees; Groups are what AssetType entitlements name (`spec.entitlement.groups`). */
export function userResourceType(baseUrl: string): Record<string, unknown> {
  return {
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: "User",
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: CORE_USER,
    schemaExtensions: [{ schema: ENTERPRISE_USER, required: false }],
    meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/User` },
  };
}

export function groupResourceType(baseUrl: string): Record<string, unknown> {
  return {
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: "Group",
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: CORE_GROUP,
    meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/Group` },
  };
}
