export { OidcService, safeReturnTo, type OidcServiceOptions } from './service.ts';
export { OidcStore } from './store.ts';
export { idpFetch, type IdpFetch } from './http.ts';
export { directoryJoin } from './directory-join.ts';
export { registerOidcPages, flowCookieName } from './pages.ts';
export { addConnectionSchema, resolveConnection, type OidcConnectionView } from './connections.ts';
export type { OidcDirectory, JoinUser } from './join.ts';
export { createOidcModule, type OidcModule } from './compose.ts';
