/** The web console's server side: its sign-in session, the built files it is served from, its build. */
export { consoleCookie, csrfHeader, csrfTokenOf } from './session.ts';
export { loadConsole, type ConsoleSite } from './site.ts';
export { buildConsole, consoleStale, defaultConsoleDist } from './build.ts';
