import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import {
  ConflictError,
  ForbiddenError,
  InputError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
  showValue,
} from '../core/errors.ts';
import { actorName, type OperatorRole, type Principal } from '../core/policy.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import type { Page, PageRequest } from '../store/keyset.ts';
import {
  checkTotp,
  decoyHash,
  hashPassword,
  hashRecoveryCode,
  newRecoveryCodes,
  newTotpSecret,
  passwordProblem,
  sameHash,
  totpUri,
  verifyPassword,
} from './credentials.ts';
import { accountVerdict, addressPrefix, addressVerdict, type LoginLimits } from './lockout.ts';
import { LoginAttempts } from './login-attempts.ts';
import type { AddOperatorInput, CreateTokenInput, LoginInput } from './schemas.ts';
import type { IssuedToken, TokenService, TokenSort, TokenView } from './tokens.ts';

export type { IssuedToken, TokenView } from './tokens.ts';
export type { LoginLimits } from './lockout.ts';

export interface OperatorView {
  readonly username: string;
  readonly role: OperatorRole;
  readonly mfa: boolean;
  readonly mustChangePassword: boolean;
  readonly lockedUntil: string | null;
  readonly lastLoginAt: string | null;
  readonly createdAt: string;
}

export interface OperatorServiceOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly limits: LoginLimits;
  readonly tokens: TokenService;
}

type OperatorRow = {
  id: string;
  username: string;
  role: string;
  password_hash: string;
  must_change_password: boolean;
  totp_secret: string | null;
  totp_enabled: boolean;
  totp_last_step: string | null;
  recovery_codes: string[];
  last_login_at: Date | null;
  created_at: Date;
};

/** The one answer to an unknown name, a wrong password and a locked account. */
const wrongCredentials = 'wrong username or password';

const totpSecretName = (operatorId: string): string => `operator/${operatorId}/totp`;

/**
 * Operators: accounts with argon2id passwords, TOTP, roles and API tokens.
 * Every login, failed login and change is an audit event.
 */
export class OperatorService {
  readonly #o: OperatorServiceOptions;
  readonly #attempts: LoginAttempts;

  constructor(options: OperatorServiceOptions) {
    this.#o = options;
    this.#attempts = new LoginAttempts(options.db, options.limits);
  }

  /** The first owner, on first start: a one-time password that must be changed at first login. */
  async bootstrapOwner(): Promise<{ username: string; password: string } | undefined> {
    const any = await this.#o.db.selectFrom('operators').select('id').limit(1).executeTakeFirst();
    if (any) return undefined;
    const password = randomBytes(12).toString('base64url');
    const passwordHash = await hashPassword(password);
    const created = await this.#o.db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto('operators')
        .values({
          username: 'admin',
          role: 'owner',
          password_hash: passwordHash,
          must_change_password: true,
          recovery_codes: '[]',
        })
        .onConflict((oc) => oc.column('username').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!row) return false;
      await this.#o.audit.record(tx, {
        actor: 'system',
        action: 'operator.add',
        target: 'operator/admin',
        details: { role: 'owner', bootstrap: true },
      });
      return true;
    });
    return created ? { username: 'admin', password } : undefined;
  }

  /** A token for the CLI on this machine (client.json); the previous one is revoked. */
  /** `node`: the Steward node whose data dir gets it (each node keeps its own). */
  async issueLocalToken(username = 'admin', node?: string): Promise<IssuedToken> {
    return this.#o.tokens.issueLocal(await this.#find(username), node);
  }

  async add(
    input: AddOperatorInput,
    actor: Principal,
  ): Promise<{ operator: OperatorView; password?: string }> {
    const generated = input.password ? undefined : randomBytes(12).toString('base64url');
    const passwordHash = await hashPassword(input.password ?? generated ?? '');
    await this.#o.db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto('operators')
        .values({
          username: input.username,
          role: input.role,
          password_hash: passwordHash,
          must_change_password: generated !== undefined,
          recovery_codes: '[]',
        })
        .onConflict((oc) => oc.column('username').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!row) throw new ConflictError(`operator ${input.username} already exists`, { field: 'username' });
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'operator.add',
        target: `operator/${input.username}`,
        details: { role: input.role },
      });
    });
    const operator = this.#view(await this.#find(input.username), undefined);
    return generated ? { operator, password: generated } : { operator };
  }

  async list(): Promise<OperatorView[]> {
    // Tenant admins share the table (admins/), not the list: they are the customers' people.
    const rows = await this.#o.db
      .selectFrom('operators')
      .selectAll()
      .where('tenant_id', 'is', null)
      .orderBy('username')
      .execute();
    const locks = await this.#attempts.lockedUntil(this.#o.clock.now());
    return rows.map((r) => this.#view(r, locks.get(r.id)));
  }

  async remove(username: string, actor: Principal): Promise<void> {
    await this.#o.db.transaction().execute(async (tx) => {
      // Lock every owner (in one order, so two removals cannot deadlock) before counting them:
      // otherwise two owners removing each other at once would both see a second owner.
      const owners = await tx
        .selectFrom('operators')
        .select('id')
        .where('role', '=', 'owner')
        .orderBy('id')
        .forUpdate()
        .execute();
      const operator = await tx
        .selectFrom('operators')
        .selectAll()
        .where('username', '=', username)
        .where('tenant_id', 'is', null)
        .forUpdate()
        .executeTakeFirst();
      if (!operator)
        throw new NotFoundError(`operator ${showValue(username)} does not exist`, { field: 'username' });
      if (operator.role === 'owner') {
        if (owners.length <= 1) {
          throw new ConflictError(`operator ${username} is the last owner; add another owner first`);
        }
      }
      if (operator.totp_secret) await this.#o.secrets.remove(tx, operator.totp_secret);
      await tx.deleteFrom('operators').where('id', '=', operator.id).execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'operator.remove',
        target: `operator/${username}`,
      });
    });
  }

  /**
   * Signs an operator in and returns a short-lived session token. Failed
   * logins are counted per address prefix and per account and prefix (see
   * lockout.ts), each before its password is checked, so that concurrent
   * guesses cannot all be tried before a limit takes effect. An unknown name,
   * a wrong password and a locked account get the same answer after the same
   * work (an argon2 verification), so the answer tells nobody which names
   * exist or are locked; the audit log records which it was.
   */
  async login(input: LoginInput, address: string): Promise<IssuedToken & { mustChangePassword: false }> {
    const now = this.#o.clock.now();
    const prefix = addressPrefix(address);
    const name = input.username.slice(0, 64);
    const throttle = addressVerdict(await this.#attempts.chargeAddress(prefix, now), this.#o.limits, now);
    if (throttle.kind === 'throttled') {
      // About the address, whichever account it names: no oracle.
      await this.#o.audit.recordAlone({
        actor: `operator:${name}`,
        action: 'operator.login',
        target: `operator/${name}`,
        outcome: 'denied',
        address,
        details: { reason: 'too many failed logins from this address' },
      });
      throw new RateLimitedError(
        `too many failed logins from ${address}; try again in ${throttle.retryAfterSeconds} s`,
        throttle.retryAfterSeconds,
      );
    }
    const operator = await this.#o.db
      .selectFrom('operators')
      .selectAll()
      .where('username', '=', input.username)
      .executeTakeFirst();
    const verdict = operator
      ? accountVerdict(await this.#attempts.chargeAccount(operator.id, prefix, now), this.#o.limits, now)
      : undefined;
    const open = verdict?.kind === 'open';
    // Locked or unknown: the password is checked against a decoy, so that the answer takes as long.
    const passwordOk = await verifyPassword(
      operator && open ? operator.password_hash : await decoyHash(),
      input.password,
    );
    if (!operator || !verdict || verdict.kind === 'locked' || !passwordOk) {
      const lock =
        operator &&
        (verdict?.kind === 'open' ? verdict.lockOnFailure : verdict?.kind === 'locked' && verdict.lockNow);
      if (operator && lock) await this.#attempts.lock(operator.id, prefix, now);
      const reason = !operator
        ? 'unknown operator'
        : verdict?.kind === 'locked'
          ? verdict.reason
          : 'wrong password';
      await this.#failed(name, address, reason, lock === true);
      throw new UnauthorizedError(wrongCredentials);
    }
    if (operator.totp_enabled) {
      const ok = await this.#secondFactor(operator, input, now);
      if (!ok) {
        if (verdict.lockOnFailure) await this.#attempts.lock(operator.id, prefix, now);
        await this.#failed(name, address, 'wrong or missing second factor', verdict.lockOnFailure);
        throw new UnauthorizedError(
          input.totp || input.recoveryCode
            ? 'wrong or reused one-time code'
            : 'this operator uses MFA: pass the 6-digit code from the authenticator app (--totp) or a recovery code',
          { field: 'totp' },
        );
      }
    }
    await this.#attempts.settle(operator.id, prefix, now);
    let newHash: string | undefined;
    if (operator.must_change_password) {
      if (!input.newPassword) {
        throw new ForbiddenError(
          'the password was set for one use and must be changed: log in again with a new password (steward login --change-password)',
          { field: 'newPassword' },
        );
      }
      if (input.newPassword === input.password) {
        throw new InputError('field "newPassword": the new password must differ from the one-time password', {
          field: 'newPassword',
        });
      }
      newHash = await hashPassword(input.newPassword);
    }
    const expiresAt = this.#o.tokens.expiry('expiresInHours', input.expiresInHours);
    const token = await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('operators')
        .set({
          last_login_at: now,
          last_login_address: address,
          ...(newHash ? { password_hash: newHash, must_change_password: false } : {}),
        })
        .where('id', '=', operator.id)
        .execute();
      // A password someone else set may have been used before: its sessions and tokens end with it.
      const revoked = newHash ? await this.#o.tokens.revokeOthers(tx, operator.id, null) : [];
      await this.#o.audit.record(tx, {
        actor: `operator:${operator.username}`,
        action: 'operator.login',
        target: `operator/${operator.username}`,
        address,
        details: {
          mfa: operator.totp_enabled,
          previousLoginAt: operator.last_login_at?.toISOString() ?? null,
          ...(newHash ? { passwordChanged: true, revokedTokens: revoked } : {}),
        },
      });
      return this.#o.tokens.issue(
        tx,
        operator,
        { name: input.tokenName, kind: 'session', role: operator.role as OperatorRole, expiresAt },
        `operator:${operator.username}`,
      );
    });
    return { ...token, mustChangePassword: false };
  }

  /** Resolves a bearer token to a principal, or throws UnauthorizedError. */
  authenticate(token: string, address: string | null): Promise<Principal> {
    return this.#o.tokens.authenticate(token, address);
  }

  /** Whether the account (an operator's or a tenant admin's) has enrolled TOTP: the console's session shows it. */
  async hasMfa(operatorId: string): Promise<boolean> {
    const row = await this.#o.db
      .selectFrom('operators')
      .select('totp_enabled')
      .where('id', '=', operatorId)
      .executeTakeFirst();
    return row?.totp_enabled ?? false;
  }

  /** A token for automation, for the calling operator; only one of its own sign-ins may create one. */
  async createToken(actor: Principal, input: CreateTokenInput): Promise<IssuedToken> {
    return this.#o.tokens.create(actor, await this.#findOwn(actor, 'create a token'), input);
  }

  listTokens(actor: Principal, page: PageRequest<TokenSort>): Promise<Page<TokenView>> {
    return this.#o.tokens.listPage(actor, page);
  }

  /** Revokes one of the caller's own tokens. */
  async revokeToken(actor: Principal, id: string): Promise<TokenView> {
    return this.#o.tokens.revoke(actor, id, await this.#findOwn(actor, 'revoke a token'));
  }

  /** An owner revokes another operator's token (a lost laptop, a leaked CI secret), which is audited. */
  async revokeTokenOf(actor: Principal, username: string, id: string): Promise<TokenView> {
    return this.#o.tokens.revoke(actor, id, await this.#find(username));
  }

  /** Changes the caller's password; every other session and automation token of the operator ends. */
  async changePassword(actor: Principal, currentPassword: string, newPassword: string): Promise<void> {
    const operator = await this.#findOwn(actor, 'change a password');
    if (!(await verifyPassword(operator.password_hash, currentPassword))) {
      await this.#o.audit.recordAlone({
        actor: actorName(actor),
        address: actor.address,
        action: 'operator.password.change',
        target: `operator/${operator.username}`,
        outcome: 'failure',
        details: { reason: 'wrong current password' },
      });
      throw new UnauthorizedError('the current password is wrong', { field: 'currentPassword' });
    }
    const problem = passwordProblem(newPassword);
    if (problem) throw new InputError(`field "newPassword": ${problem}`, { field: 'newPassword' });
    const passwordHash = await hashPassword(newPassword);
    await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('operators')
        .set({ password_hash: passwordHash, must_change_password: false })
        .where('id', '=', operator.id)
        .execute();
      const revoked = await this.#o.tokens.revokeOthers(tx, operator.id, actor.tokenId);
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'operator.password.change',
        target: `operator/${operator.username}`,
        details: { revokedTokens: revoked },
      });
    });
  }

  /** Starts TOTP enrolment: the secret is stored but not enforced until a code verifies it. */
  async enrollMfa(actor: Principal): Promise<{ secret: string; uri: string }> {
    const operator = await this.#findOwn(actor, 'enrol MFA');
    if (operator.totp_enabled) {
      throw new ConflictError(
        'MFA is already enabled for this operator; an owner can reset it with "steward mfa reset"',
      );
    }
    const secret = newTotpSecret();
    await this.#o.db.transaction().execute(async (tx) => {
      await this.#o.secrets.put(tx, totpSecretName(operator.id), secret);
      await tx
        .updateTable('operators')
        .set({ totp_secret: totpSecretName(operator.id), totp_enabled: false })
        .where('id', '=', operator.id)
        .execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'operator.mfa.enroll',
        target: `operator/${operator.username}`,
      });
    });
    return { secret, uri: totpUri(secret, operator.username) };
  }

  /** Confirms enrolment with a first code, enables MFA and returns the recovery codes (shown once). */
  async verifyMfa(actor: Principal, code: string): Promise<{ recoveryCodes: string[] }> {
    const operator = await this.#findOwn(actor, 'enable MFA');
    if (!operator.totp_secret) throw new ConflictError('start with "steward mfa enroll" first');
    if (operator.totp_enabled) throw new ConflictError('MFA is already enabled for this operator');
    const secret = await this.#o.secrets.get(operator.totp_secret);
    const step = await checkTotp(secret, code, this.#o.clock.now());
    if (step === undefined) {
      throw new InputError('field "code": the code does not match; check the authenticator app\'s clock', {
        field: 'code',
      });
    }
    const codes = newRecoveryCodes();
    await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('operators')
        .set({
          totp_enabled: true,
          totp_last_step: String(step),
          recovery_codes: JSON.stringify(codes.map(hashRecoveryCode)),
        })
        .where('id', '=', operator.id)
        .execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'operator.mfa.enable',
        target: `operator/${operator.username}`,
      });
    });
    return { recoveryCodes: codes };
  }

  /**
   * Turns TOTP on with a secret its holder has just proven (a first code at
   * `step`), in the caller's transaction: a tenant admin's invitation page
   * enrols in the same step that sets the password. Returns the recovery
   * codes, shown once.
   */
  async enableMfaIn(tx: Queryable, operatorId: string, secret: string, step: number): Promise<string[]> {
    const codes = newRecoveryCodes();
    await this.#o.secrets.put(tx, totpSecretName(operatorId), secret);
    await tx
      .updateTable('operators')
      .set({
        totp_secret: totpSecretName(operatorId),
        totp_enabled: true,
        totp_last_step: String(step),
        recovery_codes: JSON.stringify(codes.map(hashRecoveryCode)),
      })
      .where('id', '=', operatorId)
      .execute();
    return codes;
  }

  /** An owner turns another operator's MFA off (a lost phone), which is audited. */
  async resetMfa(actor: Principal, username: string): Promise<void> {
    const operator = await this.#find(username);
    await this.#o.db.transaction().execute(async (tx) => {
      if (operator.totp_secret) await this.#o.secrets.remove(tx, operator.totp_secret);
      await tx
        .updateTable('operators')
        .set({ totp_secret: null, totp_enabled: false, totp_last_step: null, recovery_codes: '[]' })
        .where('id', '=', operator.id)
        .execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'operator.mfa.reset',
        target: `operator/${username}`,
      });
    });
  }

  async #secondFactor(operator: OperatorRow, input: LoginInput, now: Date): Promise<boolean> {
    if (input.totp && operator.totp_secret) {
      const secret = await this.#o.secrets.get(operator.totp_secret);
      const step = await checkTotp(secret, input.totp, now);
      if (step === undefined) return false;
      // A code is good once: replaying it within its window is refused.
      const updated = await this.#o.db
        .updateTable('operators')
        .set({ totp_last_step: String(step) })
        .where('id', '=', operator.id)
        .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', String(step))]))
        .executeTakeFirst();
      return updated.numUpdatedRows === 1n;
    }
    if (input.recoveryCode) {
      const hashed = hashRecoveryCode(input.recoveryCode);
      const remaining = operator.recovery_codes.filter((h) => !sameHash(h, hashed));
      if (remaining.length === operator.recovery_codes.length) return false;
      const updated = await this.#o.db
        .updateTable('operators')
        .set({ recovery_codes: JSON.stringify(remaining) })
        .where('id', '=', operator.id)
        .where(sql<boolean>`recovery_codes = ${JSON.stringify(operator.recovery_codes)}::jsonb`)
        .executeTakeFirst();
      return updated.numUpdatedRows === 1n;
    }
    return false;
  }

  /** Records a failed login; the attempt was already counted. */
  async #failed(name: string, address: string, reason: string, locked: boolean): Promise<void> {
    const lockoutSeconds = this.#o.limits.lockoutSeconds;
    await this.#o.audit.recordAlone({
      actor: `operator:${name}`,
      action: 'operator.login',
      target: `operator/${name}`,
      outcome: 'failure',
      address,
      details: { reason, ...(locked ? { locked: true, lockoutSeconds } : {}) },
    });
  }

  async #find(username: string): Promise<OperatorRow> {
    const row = await this.#o.db
      .selectFrom('operators')
      .selectAll()
      .where('username', '=', username)
      .where('tenant_id', 'is', null)
      .executeTakeFirst();
    if (!row)
      throw new NotFoundError(`operator ${showValue(username)} does not exist`, { field: 'username' });
    return row;
  }

  /**
   * The calling operator, for a change to its own account: only a token that
   * is one of its own sign-ins with its whole role may do that, never an
   * automation token (which may hold a lesser role, and lives longer).
   */
  async #findOwn(actor: Principal, what: string): Promise<OperatorRow> {
    if (!actor.operatorId) throw new ForbiddenError('this action needs an operator, not Steward itself');
    if (!actor.accountAccess) {
      throw new ForbiddenError(
        `an API token may not ${what}: that changes the account, which needs the operator's own sign-in ("steward login")`,
      );
    }
    const row = await this.#o.db
      .selectFrom('operators')
      .selectAll()
      .where('id', '=', actor.operatorId)
      .executeTakeFirst();
    if (!row) throw new UnauthorizedError('the operator of this token no longer exists');
    return row;
  }

  #view(row: OperatorRow, lockedUntil: Date | undefined): OperatorView {
    return {
      username: row.username,
      role: row.role as OperatorRole,
      mfa: row.totp_enabled,
      mustChangePassword: row.must_change_password,
      lockedUntil: lockedUntil?.toISOString() ?? null,
      lastLoginAt: row.last_login_at?.toISOString() ?? null,
      createdAt: row.created_at.toISOString(),
    };
  }
}
