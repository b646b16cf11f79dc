import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import type { SecretService } from '../../secrets/service.ts';
import type { ControlDb, Queryable } from '../../store/db.ts';
import type { LoginEvent, SignInPlace } from '../contracts.ts';
import {
  checkTotp,
  hashPassword,
  hashRecoveryCode,
  newRecoveryCodes,
  newTotpSecret,
  totpUri,
} from '../credentials.ts';
import type { DirectoryPort, LocalUser } from './directory.ts';
import { findLink, markUsed } from './links.ts';
import type { LoginEvents } from './login-log.ts';
import { linkProblemMessage, passwordPolicyProblem, type LinkKind } from './policy.ts';
import type { LocalSettings } from './sign-in.ts';
import type { Tickets } from './tickets.ts';
import { totpSecretName, type SessionRevoker } from './users.ts';
import type { LocalWebauthn } from './webauthn.ts';

/**
 * What a local user does on the pages under `/.steward/auth/`: accept an
 * invitation or a reset link (a new password; TOTP enrolment with it when
 * MFA is required and not yet enrolled), and enrol TOTP while signed in.
 * The TOTP secret travels in a signed enrolment ticket until a first code
 * confirms it, so a half-done enrolment leaves nothing behind; the password,
 * the TOTP secret and the used link are one transaction.
 */
export interface Enrolment {
  readonly secret: string;
  readonly uri: string;
  /** Signed, short-lived: the form sends it back with the first code. */
  readonly ticket: string;
}

export type LinkPage =
  | { readonly kind: 'problem'; readonly message: string }
  | { readonly kind: 'form'; readonly userName: string; readonly enrolment: Enrolment | undefined };

export type LinkOutcome =
  | { readonly kind: 'problem'; readonly message: string; readonly field?: 'password' | 'code' }
  | {
      readonly kind: 'done';
      readonly userName: string;
      readonly recoveryCodes: readonly string[] | undefined;
    };

export interface EnrolmentOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly directory: DirectoryPort;
  readonly log: LoginEvents;
  readonly tickets: Tickets;
  readonly settings: LocalSettings;
  readonly sessions: () => SessionRevoker;
  /** A security key is a second factor too: with one, TOTP is not due. */
  readonly webauthn: LocalWebauthn;
  readonly denylist?: ReadonlySet<string>;
}

/** How long the enrolment form may stay open. */
const enrolmentSeconds = 1800;

export class LocalEnrolment {
  readonly #o: EnrolmentOptions;

  constructor(options: EnrolmentOptions) {
    this.#o = options;
  }

  /** What the link's page shows (GET): the form, with a fresh TOTP secret when enrolment is due. */
  async linkPage(place: SignInPlace, kind: LinkKind, token: string): Promise<LinkPage> {
    const now = this.#o.clock.now();
    const link = await findLink(this.#o.db, { tenantId: place.tenantId, kind, token, now });
    if ('problem' in link) return { kind: 'problem', message: linkProblemMessage[link.problem] };
    const user = await this.#o.directory.getUser(place.tenantId, link.userId);
    if (!user?.active) return { kind: 'problem', message: linkProblemMessage.unknown };
    const enrolment = (await this.#enrolmentDue(place, user.id))
      ? this.#newEnrolment(place, user)
      : undefined;
    return { kind: 'form', userName: user.userName, enrolment };
  }

  /** The link's form sent (POST): sets the password (and TOTP), uses the link up. */
  async completeLink(
    place: SignInPlace,
    kind: LinkKind,
    token: string,
    password: string,
    enrolment: { ticket: string; code: string } | undefined,
  ): Promise<LinkOutcome> {
    const now = this.#o.clock.now();
    const peek = await findLink(this.#o.db, { tenantId: place.tenantId, kind, token, now });
    if ('problem' in peek) return { kind: 'problem', message: linkProblemMessage[peek.problem] };
    const user = await this.#o.directory.getUser(place.tenantId, peek.userId);
    if (!user?.active) return { kind: 'problem', message: linkProblemMessage.unknown };
    const problem = passwordPolicyProblem(password, {
      userName: user.userName,
      email: user.email,
      ...(this.#o.denylist ? { denylist: this.#o.denylist } : {}),
    });
    if (problem) return { kind: 'problem', message: `Password: ${problem}.`, field: 'password' };
    const due = await this.#enrolmentDue(place, user.id);
    let totp: { secret: string; step: number } | undefined;
    if (due) {
      const checked = await this.#checkEnrolment(place, user.id, enrolment, now);
      if (checked.kind === 'problem') return checked;
      totp = checked;
    }
    const passwordHash = await hashPassword(password);
    const codes = totp ? newRecoveryCodes() : undefined;
    const outcome = await this.#o.db.transaction().execute(async (tx) => {
      // Locked, then checked again: of two concurrent uses, one finds it used.
      const link = await findLink(tx, { tenantId: place.tenantId, kind, token, now, lock: true });
      if ('problem' in link) return { kind: 'problem' as const, message: linkProblemMessage[link.problem] };
      await markUsed(tx, link.id, now);
      await tx
        .updateTable('tenant_user_credentials')
        .set({ password_hash: passwordHash, password_set_at: now, mfa_challenge: null, updated_at: now })
        .where('user_id', '=', user.id)
        .execute();
      await this.#recordStep(tx, place, user, {
        method: kind === 'invitation' ? 'invitation' : 'password_reset',
        detail: kind === 'invitation' ? 'password set from the invitation' : 'password set from a reset link',
        action: kind === 'invitation' ? 'tenant-user.invitation.accept' : 'tenant-user.password.reset',
        details: { link: link.id, mfaEnrolled: totp !== undefined },
      });
      if (totp && codes) await this.#enable(tx, place, user, totp, codes, now);
      return { kind: 'done' as const, userName: user.userName, recoveryCodes: codes };
    });
    // A reset ends every session the old password may have opened.
    if (outcome.kind === 'done' && kind === 'reset')
      await this.#o.sessions().revokeUser(place.tenantId, user.id);
    return outcome;
  }

  /** A signed-in user starts TOTP enrolment (`/.steward/auth/mfa`). */
  async startMfa(place: SignInPlace, userId: string): Promise<Enrolment | { problem: string }> {
    const user = await this.#o.directory.getUser(place.tenantId, userId);
    if (!user?.active) return { problem: 'Sign in first.' };
    const credentials = await this.#credentials(this.#o.db, user.id);
    if (!credentials?.password_hash)
      return { problem: 'Only users who sign in with a password here enrol MFA here.' };
    if (credentials.totp_enabled)
      return {
        problem:
          'Two-factor authentication is set up already. Ask your administrator to reset it to start again.',
      };
    return this.#newEnrolment(place, user);
  }

  async finishMfa(
    place: SignInPlace,
    userId: string,
    enrolment: { ticket: string; code: string },
  ): Promise<LinkOutcome> {
    const now = this.#o.clock.now();
    const user = await this.#o.directory.getUser(place.tenantId, userId);
    if (!user?.active) return { kind: 'problem', message: 'Sign in first.' };
    const checked = await this.#checkEnrolment(place, user.id, enrolment, now);
    if (checked.kind === 'problem') return checked;
    const codes = newRecoveryCodes();
    return this.#o.db.transaction().execute(async (tx) => {
      const credentials = await this.#credentials(tx, user.id, true);
      if (!credentials?.password_hash || credentials.totp_enabled) {
        return { kind: 'problem' as const, message: 'Two-factor authentication is set up already.' };
      }
      await this.#enable(tx, place, user, checked, codes, now);
      return { kind: 'done' as const, userName: user.userName, recoveryCodes: codes };
    });
  }

  /** TOTP confirmed by its first code at sign-in (MFA required, LocalSignInService): on, with new recovery codes. */
  async enableAtSignIn(
    place: SignInPlace,
    userId: string,
    totp: { secret: string; step: number },
  ): Promise<{ recoveryCodes: readonly string[] } | { problem: string }> {
    const user = await this.#o.directory.getUser(place.tenantId, userId);
    if (!user?.active) return { problem: 'user gone or inactive' };
    const codes = newRecoveryCodes();
    const now = this.#o.clock.now();
    return this.#o.db.transaction().execute(async (tx) => {
      const credentials = await this.#credentials(tx, user.id, true);
      if (!credentials?.password_hash || credentials.totp_enabled) {
        return { problem: 'TOTP was set up already (a second enrolment at once)' };
      }
      await this.#enable(tx, place, user, totp, codes, now);
      return { recoveryCodes: codes };
    });
  }

  async #enrolmentDue(place: SignInPlace, userId: string): Promise<boolean> {
    const credentials = await this.#credentials(this.#o.db, userId);
    if (credentials?.totp_enabled) return false;
    if ((await this.#o.webauthn.keysFor(userId, '')) !== 'none') return false;
    return (credentials?.mfa_required ?? false) || (await this.#o.settings.mfaRequired(place));
  }

  #newEnrolment(place: SignInPlace, user: LocalUser): Enrolment {
    const secret = newTotpSecret();
    const ticket = this.#o.tickets.issue({
      purpose: 'mfa-enrolment',
      tenantId: place.tenantId,
      host: place.host,
      userId: user.id,
      expiresAt: Math.floor(this.#o.clock.now().getTime() / 1000) + enrolmentSeconds,
      secret,
    });
    return { secret, uri: totpUri(secret, `${user.userName}@${place.tenant}`, place.host), ticket };
  }

  async #checkEnrolment(
    place: SignInPlace,
    userId: string,
    enrolment: { ticket: string; code: string } | undefined,
    now: Date,
  ): Promise<
    { kind: 'ok'; secret: string; step: number } | { kind: 'problem'; message: string; field: 'code' }
  > {
    const ticket =
      enrolment &&
      this.#o.tickets.open(
        enrolment.ticket,
        { purpose: 'mfa-enrolment', tenantId: place.tenantId, host: place.host },
        now,
      );
    if (!ticket?.secret || ticket.userId !== userId || !enrolment) {
      return {
        kind: 'problem',
        message: 'The set-up form ran out of time; open the link again.',
        field: 'code',
      };
    }
    const step = await checkTotp(ticket.secret, enrolment.code.trim(), now);
    if (step === undefined) {
      return {
        kind: 'problem',
        message:
          "Code: it does not match; enter the 6 digits your authenticator app shows now (check the phone's clock).",
        field: 'code',
      };
    }
    return { kind: 'ok', secret: ticket.secret, step };
  }

  async #enable(
    tx: Queryable,
    place: SignInPlace,
    user: LocalUser,
    totp: { secret: string; step: number },
    codes: readonly string[],
    now: Date,
  ): Promise<void> {
    const name = totpSecretName(user.id);
    await this.#o.secrets.put(tx, name, totp.secret);
    await tx
      .updateTable('tenant_user_credentials')
      .set({
        totp_secret: name,
        totp_enabled: true,
        totp_last_step: String(totp.step),
        mfa_enrolled_at: now,
        recovery_codes: JSON.stringify(codes.map(hashRecoveryCode)),
        updated_at: now,
      })
      .where('user_id', '=', user.id)
      .execute();
    await this.#recordStep(tx, place, user, {
      method: 'mfa_enrolled',
      detail: 'TOTP',
      action: 'tenant-user.mfa.enroll',
    });
  }

  /** A step the user took here, done: one line in the login log and one audit event (actor the user), in tx. */
  async #recordStep(
    tx: Queryable,
    place: SignInPlace,
    user: LocalUser,
    step: {
      method: LoginEvent['method'];
      detail: string;
      action: string;
      details?: Record<string, unknown>;
    },
  ): Promise<void> {
    await this.#o.log.recordIn(tx, {
      tenantId: place.tenantId,
      stage: place.stage,
      userId: user.id,
      userName: user.userName,
      method: step.method,
      outcome: 'success',
      reason: null,
      address: place.address,
      detail: step.detail,
    });
    await this.#o.audit.record(tx, {
      actor: `tenant-user:${place.tenant}/${user.userName}`,
      address: place.address,
      action: step.action,
      target: `tenant/${place.tenant}/user/${user.userName}`,
      tenant: place.tenant,
      ...(step.details ? { details: step.details } : {}),
    });
  }

  #credentials(tx: Queryable, userId: string, lock = false) {
    let q = tx
      .selectFrom('tenant_user_credentials')
      .select(['password_hash', 'totp_enabled', 'mfa_required'])
      .where('user_id', '=', userId);
    if (lock) q = q.forUpdate();
    return q.executeTakeFirst();
  }
}
