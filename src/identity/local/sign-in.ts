import { sql } from 'kysely';
import type { Clock } from '../../core/clock.ts';
import type { SecretService } from '../../secrets/service.ts';
import type { ControlDb } from '../../store/db.ts';
import type { LocalSignIn, SignInFailureReason, SignInPlace, SignInResult } from '../contracts.ts';
import {
  checkTotp,
  decoyHash,
  newTotpSecret,
  totpUri,
  hashRecoveryCode,
  sameHash,
  verifyPassword,
} from '../credentials.ts';
import { accountVerdict, addressPrefix, addressVerdict } from '../lockout.ts';
import { LocalAttempts } from './attempts.ts';
import type { DirectoryPort } from './directory.ts';
import type { LoginEvents } from './login-log.ts';
import type { LocalLoginLimits } from './policy.ts';
import { ticketDigest, type Tickets } from './tickets.ts';
import type { LocalWebauthn } from './webauthn.ts';

/** What the tenant's identity settings (sessions/, id-edge) say about local users at a place. */
export interface LocalSettings {
  /** Local users may sign in here. */
  enabled(place: SignInPlace): Promise<boolean>;
  /** Every local user signing in here needs a second factor (besides users added with MFA required). */
  mfaRequired(place: SignInPlace): Promise<boolean>;
}

/** Turns TOTP on for a user who confirmed it at sign-in (LocalEnrolment): the recovery codes, or a problem. */
export type EnrolAtSignIn = (
  place: SignInPlace,
  userId: string,
  totp: { secret: string; step: number },
) => Promise<{ recoveryCodes: readonly string[] } | { problem: string }>;

export const defaultLocalSettings: LocalSettings = {
  enabled: () => Promise.resolve(true),
  mfaRequired: () => Promise.resolve(false),
};

export interface LocalSignInOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly clock: Clock;
  readonly limits: LocalLoginLimits;
  readonly directory: DirectoryPort;
  readonly log: LoginEvents;
  readonly tickets: Tickets;
  readonly settings: LocalSettings;
  readonly webauthn: LocalWebauthn;
  readonly enrol: EnrolAtSignIn;
}

/** The one answer to an unknown user, a wrong password, a locked or inactive account. */
export const wrongCredentials = 'Wrong user name or password.';
const wrongCode = 'Wrong or already used code. Sign in again.';
const keyRefused = 'The security key was not accepted. Sign in again.';
const tooSlow = 'The sign-in took too long or was finished already. Sign in again.';
/** How long the code form may take after the password. */
export const challengeSeconds = 300;

/**
 * Signs local users in: argon2id passwords, then a security key (webauthn.ts),
 * TOTP or a recovery code when enrolled. Failed attempts are counted before anything is checked, as
 * for operators (../lockout.ts); an unknown user, a wrong password, a locked
 * and an inactive account get the same answer after the same work (an
 * argon2 verification, against a decoy hash when there is nothing to
 * check). The login log records each outcome with its real reason.
 */
export class LocalSignInService implements LocalSignIn {
  readonly #o: LocalSignInOptions;
  readonly #attempts: LocalAttempts;

  constructor(options: LocalSignInOptions) {
    this.#o = options;
    this.#attempts = new LocalAttempts(options.db, options.limits);
  }

  get attempts(): LocalAttempts {
    return this.#attempts;
  }

  enabled(place: SignInPlace): Promise<boolean> {
    return this.#o.settings.enabled(place);
  }

  async password(place: SignInPlace, userName: string, password: string): Promise<SignInResult> {
    const now = this.#o.clock.now();
    const name = userName.slice(0, 256);
    const fail = (reason: SignInFailureReason, userId: string | null, detail: string | null = null) =>
      this.#refuse(place, 'password', name, userId, reason, detail, wrongCredentials);
    if (!(await this.enabled(place))) {
      return this.#refuse(
        place,
        'password',
        name,
        null,
        'not_allowed',
        'local users are off here',
        'Sign-in with a password is not offered here.',
      );
    }
    const prefix = addressPrefix(place.address);
    const throttle = addressVerdict(
      await this.#attempts.chargeAddress(place.tenantId, prefix, now),
      this.#o.limits,
      now,
    );
    const user =
      name.length > 0 ? await this.#o.directory.findUser(place.tenantId, { userName: name }) : undefined;
    const credentials = user ? await this.#credentials(user.id) : undefined;
    const count =
      user && throttle.kind === 'open'
        ? await this.#attempts.chargeAccount(place.tenantId, user.id, prefix, now)
        : undefined;
    const verdict = count && accountVerdict(count, this.#o.limits, now);
    const check =
      verdict?.kind === 'open' && credentials?.password_hash ? credentials.password_hash : undefined;
    // Nothing to check (unknown, locked, no password yet): a decoy, so that the answer takes as long.
    const passwordOk = (await verifyPassword(check ?? (await decoyHash()), password)) && check !== undefined;
    if (throttle.kind === 'throttled') {
      return fail(
        'locked',
        user?.id ?? null,
        `too many failed sign-ins from this address; retry in ${throttle.retryAfterSeconds} s`,
      );
    }
    if (!user || !verdict || !count) return fail('unknown_user', null);
    if (verdict.kind === 'locked') {
      if (verdict.lockNow) await this.#attempts.lock(user.id, prefix, count.locks, now);
      return fail('locked', user.id, verdict.reason);
    }
    if (!passwordOk) {
      let detail = credentials?.password_hash ? null : 'no password set (invitation not accepted)';
      if (verdict.lockOnFailure) {
        const seconds = await this.#attempts.lock(user.id, prefix, count.locks, now);
        detail = `${detail ? `${detail}; ` : ''}locked for ${seconds} s`;
      }
      return fail('bad_password', user.id, detail);
    }
    if (!user.active) return fail('inactive', user.id);
    const keys = await this.#o.webauthn.keysFor(user.id, place.host);
    if (credentials?.totp_enabled || keys !== 'none') {
      const challenge = await this.#openChallenge(place, user.id, prefix, now, { purpose: 'mfa-challenge' });
      if (keys !== 'here') return { kind: 'mfa-required', challenge };
      const webauthn = await this.#o.webauthn.authenticationOptions(user.id, place.host, challenge);
      return { kind: 'mfa-required', challenge, webauthn };
    }
    if (credentials?.mfa_required || (await this.#o.settings.mfaRequired(place))) {
      // MFA required and none set up: the TOTP set-up comes next, no session until its first code.
      const secret = newTotpSecret();
      const challenge = await this.#openChallenge(place, user.id, prefix, now, {
        purpose: 'mfa-enrolment',
        secret,
      });
      const uri = totpUri(secret, `${user.userName}@${place.tenant}`, place.host);
      return { kind: 'mfa-enrol', challenge, secret, uri };
    }
    return this.#signedIn(place, user.id, name, prefix, 'password', ['pwd'], null);
  }

  /**
   * The password was right and a second step comes next (a code, a key, or
   * the TOTP set-up): a ticket for it, the one open challenge of the user
   * (stored as its digest), and the attempt taken back (attempts.ts refund).
   */
  async #openChallenge(
    place: SignInPlace,
    userId: string,
    prefix: string,
    now: Date,
    step: { purpose: 'mfa-challenge' } | { purpose: 'mfa-enrolment'; secret: string },
  ): Promise<string> {
    const challenge = this.#o.tickets.issue({
      ...step,
      tenantId: place.tenantId,
      host: place.host,
      userId,
      expiresAt: Math.floor(now.getTime() / 1000) + challengeSeconds,
    });
    await this.#o.db
      .updateTable('tenant_user_credentials')
      .set({ mfa_challenge: ticketDigest(challenge) })
      .where('user_id', '=', userId)
      .execute();
    await this.#attempts.refund(userId, prefix, now);
    return challenge;
  }

  async totp(place: SignInPlace, challenge: string, code: string): Promise<SignInResult> {
    const step = await this.#answer(place, 'totp', challenge);
    if (step.kind !== 'open') return step.result;
    const { now, consumed, user, prefix, count, verdict, ticket } = step;
    const name = user.userName;
    if (ticket.purpose === 'mfa-enrolment') return this.#enrol(place, user, ticket, code.trim(), prefix, now);
    const how = await this.#secondFactor(consumed, code.trim(), now);
    if (!how) {
      let detail = 'wrong or reused code';
      if (verdict.lockOnFailure) {
        const seconds = await this.#attempts.lock(user.id, prefix, count.locks, now);
        detail += `; locked for ${seconds} s`;
      }
      return this.#refuse(place, 'totp', name, user.id, 'mfa_failed', detail, wrongCode);
    }
    return this.#signedIn(
      place,
      user.id,
      name,
      prefix,
      'totp',
      ['pwd', 'otp'],
      how === 'recovery' ? 'recovery code used' : null,
    );
  }

  async webauthn(
    place: SignInPlace,
    origin: string,
    challenge: string,
    assertion: string,
  ): Promise<SignInResult> {
    const step = await this.#answer(place, 'webauthn', challenge);
    if (step.kind !== 'open') return step.result;
    const { now, user, prefix, count, verdict } = step;
    const checked = await this.#o.webauthn.verifyAssertion(place, origin, user.id, challenge, assertion);
    if (!checked.ok) {
      let detail = checked.detail;
      if (verdict.lockOnFailure) {
        const seconds = await this.#attempts.lock(user.id, prefix, count.locks, now);
        detail += `; locked for ${seconds} s`;
      }
      return this.#refuse(place, 'webauthn', user.userName, user.id, 'mfa_failed', detail, keyRefused);
    }
    // hwk: proof of a hardware key (RFC 8176).
    return this.#signedIn(
      place,
      user.id,
      user.userName,
      prefix,
      'webauthn',
      ['pwd', 'hwk'],
      `key ${checked.key}`,
    );
  }

  /**
   * The second step's common part: the challenge ticket opened and consumed
   * (single use: the one the password step kept is cleared before anything is
   * checked), the attempt counted, the account's lock and state checked.
   */
  async #answer(place: SignInPlace, method: 'totp' | 'webauthn', challenge: string) {
    const now = this.#o.clock.now();
    const expect = { tenantId: place.tenantId, host: place.host };
    // The code step also answers the TOTP set-up of a sign-in where MFA is required.
    const ticket =
      this.#o.tickets.open(challenge, { ...expect, purpose: 'mfa-challenge' }, now) ??
      (method === 'totp'
        ? this.#o.tickets.open(challenge, { ...expect, purpose: 'mfa-enrolment' }, now)
        : undefined);
    if (!ticket) {
      const result = await this.#refuse(
        place,
        method,
        null,
        null,
        'bad_request',
        'MFA challenge forged, expired or for another host',
        tooSlow,
      );
      return { kind: 'done' as const, result };
    }
    const consumed = await this.#o.db
      .updateTable('tenant_user_credentials')
      .set({ mfa_challenge: null })
      .where('user_id', '=', ticket.userId)
      .where('mfa_challenge', '=', ticketDigest(challenge))
      .returningAll()
      .executeTakeFirst();
    const user = await this.#o.directory.getUser(place.tenantId, ticket.userId);
    const name = user?.userName ?? null;
    if (!consumed || !user) {
      const result = await this.#refuse(
        place,
        method,
        name,
        user?.id ?? null,
        'bad_request',
        'MFA challenge used already or replaced',
        tooSlow,
      );
      return { kind: 'done' as const, result };
    }
    const prefix = addressPrefix(place.address);
    const count = await this.#attempts.chargeAccount(place.tenantId, user.id, prefix, now);
    const verdict = accountVerdict(count, this.#o.limits, now);
    const wrong = method === 'totp' ? wrongCode : keyRefused;
    if (verdict.kind === 'locked') {
      const result = await this.#refuse(place, method, name, user.id, 'locked', verdict.reason, wrong);
      return { kind: 'done' as const, result };
    }
    if (!user.active) {
      const result = await this.#refuse(place, method, name, user.id, 'inactive', null, wrong);
      return { kind: 'done' as const, result };
    }
    return { kind: 'open' as const, now, consumed, user, prefix, count, verdict, ticket };
  }

  /** The first code of a TOTP set up at sign-in (MFA required): TOTP on, then signed in, the recovery codes with it. */
  async #enrol(
    place: SignInPlace,
    user: { id: string; userName: string },
    ticket: { secret?: string },
    code: string,
    prefix: string,
    now: Date,
  ): Promise<SignInResult> {
    const step =
      ticket.secret && /^\d{6}$/.test(code) ? await checkTotp(ticket.secret, code, now) : undefined;
    if (!ticket.secret || step === undefined) {
      const detail = 'wrong code at TOTP enrolment';
      return this.#refuse(place, 'totp', user.userName, user.id, 'mfa_failed', detail, wrongCode);
    }
    const enabled = await this.#o.enrol(place, user.id, { secret: ticket.secret, step });
    if ('problem' in enabled) {
      return this.#refuse(place, 'totp', user.userName, user.id, 'bad_request', enabled.problem, tooSlow);
    }
    const detail = 'TOTP enrolled at sign-in (MFA required)';
    const result = await this.#signedIn(
      place,
      user.id,
      user.userName,
      prefix,
      'totp',
      ['pwd', 'otp'],
      detail,
    );
    return { ...result, recoveryCodes: enabled.recoveryCodes };
  }

  async #secondFactor(
    row: { user_id: string; totp_secret: string | null; recovery_codes: string[] },
    code: string,
    now: Date,
  ): Promise<'totp' | 'recovery' | undefined> {
    if (/^\d{6}$/.test(code) && row.totp_secret) {
      const step = await checkTotp(await this.#o.secrets.get(row.totp_secret), code, now);
      if (step === undefined) return undefined;
      // A code is good once: its step must be later than the last one used.
      const updated = await this.#o.db
        .updateTable('tenant_user_credentials')
        .set({ totp_last_step: String(step) })
        .where('user_id', '=', row.user_id)
        .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', String(step))]))
        .executeTakeFirst();
      return updated.numUpdatedRows === 1n ? 'totp' : undefined;
    }
    if (!/^[0-9a-f]{5}(-[0-9a-f]{5}){3}$/i.test(code)) return undefined;
    const hashed = hashRecoveryCode(code);
    const remaining = row.recovery_codes.filter((h) => !sameHash(h, hashed));
    if (remaining.length === row.recovery_codes.length) return undefined;
    const updated = await this.#o.db
      .updateTable('tenant_user_credentials')
      .set({ recovery_codes: JSON.stringify(remaining) })
      .where('user_id', '=', row.user_id)
      .where(sql<boolean>`recovery_codes = ${JSON.stringify(row.recovery_codes)}::jsonb`)
      .executeTakeFirst();
    return updated.numUpdatedRows === 1n ? 'recovery' : undefined;
  }

  async #signedIn(
    place: SignInPlace,
    userId: string,
    userName: string | null,
    prefix: string,
    method: 'password' | 'totp' | 'webauthn',
    amr: string[],
    detail: string | null,
  ): Promise<Extract<SignInResult, { kind: 'signed-in' }>> {
    const now = this.#o.clock.now();
    await this.#attempts.settle(place.tenantId, userId, prefix, now);
    await this.#o.directory.recordSignIn(place.tenantId, userId, now);
    await this.#o.log.record({
      tenantId: place.tenantId,
      stage: place.stage,
      userId,
      userName,
      method,
      outcome: 'success',
      reason: null,
      address: place.address,
      detail,
    });
    return { kind: 'signed-in', userId, method, amr };
  }

  async #refuse(
    place: SignInPlace,
    method: 'password' | 'totp' | 'webauthn',
    userName: string | null,
    userId: string | null,
    reason: SignInFailureReason,
    detail: string | null,
    message: string,
  ): Promise<SignInResult> {
    await this.#o.log.record({
      tenantId: place.tenantId,
      stage: place.stage,
      userId,
      userName,
      method,
      outcome: 'failure',
      reason,
      address: place.address,
      detail,
    });
    return { kind: 'refused', reason, message };
  }

  #credentials(userId: string) {
    return this.#o.db
      .selectFrom('tenant_user_credentials')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
  }
}
