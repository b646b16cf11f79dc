/**
 * The SCIM schemas Steward serves (RFC 7643 §4, §8.7.1): the User with the
 * enterprise extension, and the Group. One table gives /Schemas, the
 * canonical spelling of attribute names (names are case-insensitive on the
 * wire) and which values are booleans or complex. Pure data.
 */
export const userSchema = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const groupSchema = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const enterpriseSchema = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const listSchema = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const patchSchema = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const errorSchema = 'urn:ietf:params:scim:api:messages:2.0:Error';

export type AttributeType = 'string' | 'boolean' | 'complex' | 'reference' | 'dateTime' | 'integer';

export interface AttributeDef {
  readonly name: string;
  readonly type: AttributeType;
  readonly multiValued: boolean;
  readonly required: boolean;
  readonly caseExact: boolean;
  readonly mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  readonly returned: 'always' | 'never' | 'default' | 'request';
  readonly uniqueness: 'none' | 'server' | 'global';
  readonly subAttributes?: readonly AttributeDef[];
}

function attr(
  name: string,
  type: AttributeType = 'string',
  more: Partial<Omit<AttributeDef, 'name' | 'type'>> = {},
): AttributeDef {
  return {
    name,
    type,
    multiValued: false,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...more,
  };
}

/** A multi-valued attribute with value, display, type and primary (emails, phoneNumbers, ...). */
function plural(name: string, extra: readonly AttributeDef[] = []): AttributeDef {
  return attr(name, 'complex', {
    multiValued: true,
    subAttributes: [attr('value'), attr('display'), attr('type'), attr('primary', 'boolean'), ...extra],
  });
}

export const userAttributes: readonly AttributeDef[] = [
  attr('id', 'string', { mutability: 'readOnly', returned: 'always', caseExact: true, uniqueness: 'server' }),
  attr('externalId', 'string', { caseExact: true }),
  attr('userName', 'string', { required: true, uniqueness: 'server' }),
  attr('name', 'complex', {
    subAttributes: [
      'formatted',
      'familyName',
      'givenName',
      'middleName',
      'honorificPrefix',
      'honorificSuffix',
    ].map((n) => attr(n)),
  }),
  ...[
    'displayName',
    'nickName',
    'profileUrl',
    'title',
    'userType',
    'preferredLanguage',
    'locale',
    'timezone',
  ].map((n) => attr(n)),
  attr('active', 'boolean'),
  // Accepted and dropped: Steward never stores a password it is sent (sign-in is the IdP's or local/'s).
  attr('password', 'string', { mutability: 'writeOnly', returned: 'never' }),
  plural('emails'),
  plural('phoneNumbers'),
  plural('ims'),
  plural('photos'),
  plural(
    'addresses',
    ['formatted', 'streetAddress', 'locality', 'region', 'postalCode', 'country'].map((n) => attr(n)),
  ),
  attr('groups', 'complex', {
    multiValued: true,
    mutability: 'readOnly',
    subAttributes: [
      attr('value', 'string', { mutability: 'readOnly' }),
      attr('$ref', 'reference'),
      attr('display'),
      attr('type'),
    ],
  }),
  plural('entitlements'),
  plural('roles'),
  plural('x509Certificates'),
];

export const enterpriseAttributes: readonly AttributeDef[] = [
  ...['employeeNumber', 'costCenter', 'organization', 'division', 'department'].map((n) => attr(n)),
  attr('manager', 'complex', {
    subAttributes: [
      attr('value'),
      attr('$ref', 'reference'),
      attr('displayName', 'string', { mutability: 'readOnly' }),
    ],
  }),
];

export const groupAttributes: readonly AttributeDef[] = [
  attr('id', 'string', { mutability: 'readOnly', returned: 'always', caseExact: true, uniqueness: 'server' }),
  attr('externalId', 'string', { caseExact: true }),
  attr('displayName', 'string', { required: true, uniqueness: 'server' }),
  attr('members', 'complex', {
    multiValued: true,
    subAttributes: [
      attr('value', 'string', { mutability: 'immutable' }),
      attr('$ref', 'reference'),
      attr('display'),
      attr('type'),
    ],
  }),
];

export type ResourceKind = 'User' | 'Group';

/** The attribute definitions of a resource's schema (core or extension), by URN (null: the core schema). */
export function definitions(kind: ResourceKind, schema: string | null): readonly AttributeDef[] | undefined {
  if (schema === null) return kind === 'User' ? userAttributes : groupAttributes;
  if (kind === 'User' && schema.toLowerCase() === enterpriseSchema.toLowerCase()) return enterpriseAttributes;
  return undefined;
}

/** The definition of `name` among `defs`, found without regard to case. */
export function lookup(defs: readonly AttributeDef[] | undefined, name: string): AttributeDef | undefined {
  const lower = name.toLowerCase();
  return defs?.find((d) => d.name.toLowerCase() === lower);
}

/** The extension URNs a User may carry: the enterprise one by its canonical spelling, any other as sent. */
export function canonicalSchema(urn: string): string {
  return urn.toLowerCase() === enterpriseSchema.toLowerCase() ? enterpriseSchema : urn;
}

/** /Schemas: the three schemas as resources. */
export function schemaResources(base: string): Record<string, unknown>[] {
  const resource = (id: string, name: string, description: string, attributes: readonly AttributeDef[]) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id,
    name,
    description,
    attributes: attributes.filter((a) => a.name !== 'password' || id === userSchema),
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${id}` },
  });
  return [
    resource(userSchema, 'User', 'User Account', userAttributes),
    resource(enterpriseSchema, 'EnterpriseUser', 'Enterprise User', enterpriseAttributes),
    resource(groupSchema, 'Group', 'Group', groupAttributes),
  ];
}

export function resourceTypes(base: string): Record<string, unknown>[] {
  const schemas = ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'];
  return [
    {
      schemas,
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: userSchema,
      schemaExtensions: [{ schema: enterpriseSchema, required: false }],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
    },
    {
      schemas,
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: groupSchema,
      schemaExtensions: [],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` },
    },
  ];
}

export function serviceProviderConfig(
  base: string,
  maxResults: number,
  maxPayloadBytes: number,
): Record<string, unknown> {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: 'https://datatracker.ietf.org/doc/html/rfc7644',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description:
          'The tenant\'s SCIM token ("steward scim token create <tenant>"), as "Authorization: Bearer <token>"',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
    maxPayloadBytes,
  };
}
