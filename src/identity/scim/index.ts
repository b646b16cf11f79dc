/**
 * SCIM 2.0 for a tenant's identity provider (issue 13, part 4): tokens,
 * the service over the Directory, and the HTTP handler Steward's pages
 * mount at `/scim/v2/` on each tenant's apex host.
 */
export {
  scimHandler,
  scimPrefix,
  scimMediaType,
  defaultMaxBodyBytes,
  type ScimHandlerOptions,
} from './handler.ts';
export { ScimService, type ListQuery } from './service.ts';
export {
  ScimTokenService,
  looksLikeScimToken,
  maxScimTokenDays,
  type IssuedScimToken,
  type ScimCaller,
  type ScimTokenView,
} from './tokens.ts';
export { parseFilter, parsePatchPath } from './filter-parse.ts';
export { applyUserPatch, parsePatchRequest, planGroupPatch, ScimInputError } from './patch.ts';
