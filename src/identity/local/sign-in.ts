import { sql } from 'kysely';
import type { Clock } from '../../core/clock.ts';
import type { SecretService } from '../../secrets/service.ts';
import type { ControlDb } from '../../store/db.ts';
import type { LocalSignIn, SignInFailureReason, SignInPlace, SignInResult } from '../contracts.ts';
import { checkTotp, decoyHash, hashRecoveryCode, sameHash, verifyPassword } from '../credentials.ts';
import { accountVerdict, addressPrefix, addressVerdict } from '../lockout.ts';
import { LocalAttempts } from './attempts.ts';
import type { DirectoryPort } from './directory.ts';
import type { LoginEvents } from './login-log.ts';
import type { LocalLoginLimits } from './policy.ts';
import { ticketDigest, type Tickets } from './tickets.ts';

/** What the tenant's identity settings (sessions/, id-edge) say about local users at a place. */
export interface LocalSettings {
  /** Local users may sign in here. */
  enabled(place: SignInPlace): Promise<boolean>;
  /** Every local user of the tenant needs TOTP (besides users added with MFA required). */
  mfaRequired(tenantId: string): Promise<boolean>;
}

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
}

/** The one answer to an unknown user, a wrong password, a locked or inactive account. */
export const wrongCredentials = 'Wrong user name or password.';
const wrongCode = 'Wrong or already used code. Sign in again.';
const tooSlow = 'The sign-in took too long or was finished already. Sign in again.';
/** How long the code form may take after the password. */
export const challengeSeconds = 300;

/**
 * Signs local users in: argon2id passwords, then TOTP (or a recovery code)
 * when enrolled. Failed attempts are counted before anything is checked, as
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
    if (credentials?.totp_enabled) {
      const challenge = this.#o.tickets.issue({
        purpose: 'mfa-challenge',
        tenantId: place.tenantId,
        host: place.host,
        userId: user.id,
        expiresAt: Math.floor(now.getTime() / 1000) + challengeSeconds,
      });
      await this.#o.db
        .updateTable('tenant_user_credentials')
        .set({ mfa_challenge: ticketDigest(challenge) })
        .where('user_id', '=', user.id)
        .execute();
      await this.#attempts.refund(user.id, prefix, now);
      return { kind: 'mfa-required', challenge };
    }
    if (credentials?.mfa_required || (await this.#o.settings.mfaRequired(place.tenantId))) {
      // Saying so would tell a guesser the password was right: the same answer, the reason logged.
      return fail(
        'mfa_failed',
        user.id,
        'MFA is required and not enrolled: send a new invitation after "steward user reset-mfa"',
      );
    }
    return this.#signedIn(place, user.id, name, prefix, 'password', ['pwd'], null);
  }

  async totp(place: SignInPlace, challenge: string, code: string): Promise<SignInResult> {
    const now = this.#o.clock.now();
    const ticket = this.#o.tickets.open(
      challenge,
      { purpose: 'mfa-challenge', tenantId: place.tenantId, host: place.host },
      now,
    );
    if (!ticket) {
      return this.#refuse(
        place,
        'totp',
        null,
        null,
        'bad_request',
        'MFA challenge forged, expired or for another host',
        tooSlow,
      );
    }
    // Single use: the one challenge the password step kept is cleared before the code is checked.
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
      return this.#refuse(
        place,
        'totp',
        name,
        user?.id ?? null,
        'bad_request',
        'MFA challenge used already or replaced',
        tooSlow,
      );
    }
    const prefix = addressPrefix(place.address);
    const count = await this.#attempts.chargeAccount(place.tenantId, user.id, prefix, now);
    const verdict = accountVerdict(count, this.#o.limits, now);
    if (verdict.kind === 'locked') {
      return this.#refuse(place, 'totp', name, user.id, 'locked', verdict.reason, wrongCode);
    }
    if (!user.active) return this.#refuse(place, 'totp', name, user.id, 'inactive', null, wrongCode);
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
    method: 'password' | 'totp',
    amr: string[],
    detail: string | null,
  ): Promise<SignInResult> {
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
    method: 'password' | 'totp',
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
