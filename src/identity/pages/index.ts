/** The sign-in pages under `/.steward/auth/` (issue 13) and the router others add sub-paths to. */
export {
  AuthPages,
  sessionCookieHeader,
  type AuthPageContext,
  type AuthPageHandler,
  type AuthPagesOptions,
  type PagePlace,
  type PlaceResolver,
} from './router.ts';
export { routePlaces } from './place.ts';
export { csrfAccepted, csrfCookie, newCsrfToken } from './csrf.ts';
