import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import type { NotificationService } from '../../notifications/index.ts';
import type { SecretService } from '../../secrets/service.ts';
import type { ControlDb } from '../../store/db.ts';
import type { LoginLimits } from '../lockout.ts';
import type { DirectoryPort } from './directory.ts';
import { LocalEnrolment } from './enrolment.ts';
import { LoginEvents } from './login-log.ts';
import type { AuthPageHandler } from '../pages/index.ts';
import { localAuthPages, type CurrentUser, type LocalPageName } from './pages.ts';
import { localLimits } from './policy.ts';
import { defaultLocalSettings, LocalSignInService, type LocalSettings } from './sign-in.ts';
import { Tickets } from './tickets.ts';
import { LocalUserService, noSessions, type SessionRevoker } from './users.ts';
import { LocalWebauthn } from './webauthn.ts';

export { LoginEvents, type LoginEventView, type LoginLogQuery } from './login-log.ts';
export { LocalSignInService, type LocalSettings } from './sign-in.ts';
export { LocalUserService, type SessionRevoker, type UserView, type AddUserInput } from './users.ts';
export { LocalEnrolment } from './enrolment.ts';
export { LocalWebauthn } from './webauthn.ts';
export type { DirectoryPort } from './directory.ts';
export { sessionUser, type CurrentUser, type LocalPageName } from './pages.ts';
export { parseSince } from './policy.ts';

export interface LocalUsersOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly notifications: NotificationService;
  /** Operators' limits (config `login`); local users' locks back off from them. */
  readonly limits: LoginLimits;
  readonly directory: DirectoryPort;
  /** `https://<tenant host>[:port]`: where mailed links land. */
  readonly origin: (tenantSlug: string) => string;
}

/**
 * Local users of hosted apps and the login log, wired: sign-in (LocalSignIn),
 * their management (API, CLI), the link and MFA pages. The identity settings
 * (sessions/) and sessions plug in later through `useSettings` / `useSessions`.
 */
export class LocalUsers {
  readonly log: LoginEvents;
  readonly signIn: LocalSignInService;
  readonly users: LocalUserService;
  readonly enrolment: LocalEnrolment;
  readonly webauthn: LocalWebauthn;
  #settings: LocalSettings = defaultLocalSettings;
  #sessions: SessionRevoker = noSessions;

  constructor(o: LocalUsersOptions) {
    const tickets = new Tickets(o.secrets.masterKeys());
    const settings: LocalSettings = {
      enabled: (place) => this.#settings.enabled(place),
      mfaRequired: (place) => this.#settings.mfaRequired(place),
    };
    const sessions = (): SessionRevoker => this.#sessions;
    this.log = new LoginEvents(o.db, o.clock);
    this.webauthn = new LocalWebauthn({
      db: o.db,
      audit: o.audit,
      clock: o.clock,
      directory: o.directory,
      log: this.log,
      tickets,
    });
    this.signIn = new LocalSignInService({
      db: o.db,
      secrets: o.secrets,
      clock: o.clock,
      limits: localLimits(o.limits),
      directory: o.directory,
      log: this.log,
      tickets,
      settings,
      enrol: (place, userId, totp) => this.enrolment.enableAtSignIn(place, userId, totp),
      webauthn: this.webauthn,
    });
    this.users = new LocalUserService({
      db: o.db,
      secrets: o.secrets,
      audit: o.audit,
      clock: o.clock,
      directory: o.directory,
      log: this.log,
      attempts: this.signIn.attempts,
      notifications: o.notifications,
      sessions,
      origin: o.origin,
    });
    this.enrolment = new LocalEnrolment({
      db: o.db,
      secrets: o.secrets,
      audit: o.audit,
      clock: o.clock,
      directory: o.directory,
      log: this.log,
      tickets,
      settings,
      sessions,
      webauthn: this.webauthn,
    });
  }

  /** The tenant's identity settings (sessions/): whether local users may sign in, whether MFA is required. */
  useSettings(settings: LocalSettings): void {
    this.#settings = settings;
  }

  /** The sessions of end users (sessions/): disabling, deleting and resetting a user revoke them. */
  useSessions(sessions: SessionRevoker): void {
    this.#sessions = sessions;
  }

  /** The pages to add to the sign-in router under `/.steward/auth/`: invite, reset, mfa-setup, webauthn. */
  pages(currentUser: CurrentUser): Readonly<Record<LocalPageName, AuthPageHandler>> {
    return localAuthPages(this.enrolment, this.webauthn, currentUser);
  }
}
