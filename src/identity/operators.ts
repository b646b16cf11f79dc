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
import { actorName, roleCovers, type OperatorRole, type Principal } from '../core/policy.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import {
  checkTotp,
  decoyHash,
  hashPassword,
  hashRecoveryCode,
  hashToken,
  looksLikeToken,
  newApiToken,
  newRecoveryCodes,
  newTotpSecret,
  passwordProblem,
  sameHash,
  totpUri,
  verifyPassword,
} from './credentials.ts';
import type { AddOperatorInput, CreateTokenInput, LoginInput } from './schemas.ts';

export interface OperatorView {
  readonly username: string;
  readonly role: OperatorRole;
  readonly mfa: boolean;
  readonly mustChangePassword: boolean;
  readonly lockedUntil: string | null;
  readonly lastLoginAt: string | null;
  readonly createdAt: string;
}

export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly role: OperatorRole;
  readonly operator: string;
  readonly prefix: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
  readonly createdAt: string;
}

export interface IssuedToken extends TokenView {
  /** Shown once; only its hash is stored. */
  readonly token: string;
}

export interface LoginLimits {
  readonly maxFailuresPerAccount: number;
  readonly lockoutSeconds: number;
  readonly maxFailuresPerAddress: number;
  readonly addressWindowSeconds: number;
}

export interface OperatorServiceOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly limits: LoginLimits;
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
  failed_logins: number;
  locked_until: Date | null;
  last_login_at: Date | null;
  created_at: Date;
};

const totpSecretName = (operatorId: string): string => `operator/${operatorId}/totp`;

/**
 * Operators: accounts with argon2id passwords, TOTP, roles and API tokens.
 * Every login, failed login and change is an audit event.
 */
export class OperatorService {
  readonly #o: OperatorServiceOptions;

  constructor(options: OperatorServiceOptions) {
    this.#o = options;
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
  async issueLocalToken(username = 'admin'): Promise<IssuedToken> {
    const operator = await this.#find(username);
    return this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('api_tokens')
        .set({ revoked_at: this.#o.clock.now() })
        .where('operator_id', '=', operator.id)
        .where('name', '=', 'local-cli')
        .where('revoked_at', 'is', null)
        .execute();
      return this.#insertToken(
        tx,
        operator,
        { name: 'local-cli', role: operator.role as OperatorRole },
        'system',
      );
    });
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
    const operator = this.#view(await this.#find(input.username));
    return generated ? { operator, password: generated } : { operator };
  }

  async list(): Promise<OperatorView[]> {
    const rows = await this.#o.db.selectFrom('operators').selectAll().orderBy('username').execute();
    return rows.map((r) => this.#view(r));
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
   * Signs an operator in and returns a short-lived token. Throttled per
   * address and per account; a locked account stays locked whatever the password.
   * Each attempt is counted before its password is checked, so that concurrent
   * guesses cannot all be tried before the limit takes effect.
   */
  async login(input: LoginInput, address: string): Promise<IssuedToken & { mustChangePassword: false }> {
    const now = this.#o.clock.now();
    const limits = this.#o.limits;
    const throttle = await this.#chargeAddress(address, now);
    if (throttle.failures > limits.maxFailuresPerAddress) {
      const retryAfter = Math.max(
        1,
        Math.ceil(
          (throttle.window_start.getTime() + limits.addressWindowSeconds * 1000 - now.getTime()) / 1000,
        ),
      );
      await this.#o.audit.recordAlone({
        actor: `operator:${input.username.slice(0, 64)}`,
        action: 'operator.login',
        target: `operator/${input.username.slice(0, 64)}`,
        outcome: 'denied',
        address,
        details: { reason: 'too many failed logins from this address' },
      });
      throw new RateLimitedError(
        `too many failed logins from ${address}; try again in ${retryAfter} s`,
        retryAfter,
      );
    }
    const operator = await this.#o.db
      .selectFrom('operators')
      .selectAll()
      .where('username', '=', input.username)
      .executeTakeFirst();
    let attempt = 0;
    if (operator) {
      const charged = await this.#o.db
        .updateTable('operators')
        .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1) }))
        .where('id', '=', operator.id)
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
        .returning('failed_logins')
        .executeTakeFirst();
      // No row: locked. Over the limit: concurrent attempts that the lockout has not caught up with yet.
      if (!charged || charged.failed_logins > limits.maxFailuresPerAccount) {
        const lockedUntil =
          operator.locked_until && operator.locked_until > now
            ? operator.locked_until.getTime()
            : now.getTime() + limits.lockoutSeconds * 1000;
        const retryAfter = Math.max(1, Math.ceil((lockedUntil - now.getTime()) / 1000));
        await this.#failed(input.username, address, 'account locked', 0);
        throw new RateLimitedError(
          `operator ${input.username} is locked after repeated failed logins; try again in ${retryAfter} s or ask an owner`,
          retryAfter,
        );
      }
      attempt = charged.failed_logins;
    }
    const passwordOk = await verifyPassword(operator?.password_hash ?? (await decoyHash()), input.password);
    if (!operator || !passwordOk) {
      await this.#failed(input.username, address, operator ? 'wrong password' : 'unknown operator', attempt);
      throw new UnauthorizedError('wrong username or password');
    }
    if (operator.totp_enabled) {
      const ok = await this.#secondFactor(operator, input, now);
      if (!ok) {
        await this.#failed(input.username, address, 'wrong or missing second factor', attempt);
        throw new UnauthorizedError(
          input.totp || input.recoveryCode
            ? 'wrong or reused one-time code'
            : 'this operator uses MFA: pass the 6-digit code from the authenticator app (--totp) or a recovery code',
          { field: 'totp' },
        );
      }
    }
    await this.#settle(operator.id, address);
    let newHash: string | undefined;
    if (operator.must_change_password) {
      if (!input.newPassword) {
        throw new ForbiddenError(
          'the password was set for one use and must be changed: log in again with a new password (--new-password)',
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
    const token = await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('operators')
        .set({
          failed_logins: 0,
          locked_until: null,
          last_login_at: now,
          last_login_address: address,
          ...(newHash ? { password_hash: newHash, must_change_password: false } : {}),
        })
        .where('id', '=', operator.id)
        .execute();
      await this.#o.audit.record(tx, {
        actor: `operator:${operator.username}`,
        action: 'operator.login',
        target: `operator/${operator.username}`,
        address,
        details: {
          mfa: operator.totp_enabled,
          previousLoginAt: operator.last_login_at?.toISOString() ?? null,
          ...(newHash ? { passwordChanged: true } : {}),
        },
      });
      return this.#insertToken(
        tx,
        operator,
        {
          name: input.tokenName,
          role: operator.role as OperatorRole,
          expiresAt: new Date(now.getTime() + input.expiresInHours * 3_600_000),
        },
        `operator:${operator.username}`,
      );
    });
    return { ...token, mustChangePassword: false };
  }

  /** Resolves a bearer token to a principal, or throws UnauthorizedError. */
  async authenticate(token: string, address: string | null): Promise<Principal> {
    if (!looksLikeToken(token))
      throw new UnauthorizedError('the API token is malformed; tokens start with "stw_"');
    const now = this.#o.clock.now();
    const row = await this.#o.db
      .selectFrom('api_tokens')
      .innerJoin('operators', 'operators.id', 'api_tokens.operator_id')
      .select([
        'api_tokens.id',
        'api_tokens.role',
        'api_tokens.expires_at',
        'api_tokens.revoked_at',
        'api_tokens.last_used_at',
        'operators.id as operator_id',
        'operators.username',
        'operators.role as operator_role',
      ])
      .where('api_tokens.token_hash', '=', hashToken(token))
      .executeTakeFirst();
    if (!row || row.revoked_at || (row.expires_at && row.expires_at <= now)) {
      throw new UnauthorizedError(
        'the API token is unknown, expired or revoked; log in again with "steward login"',
      );
    }
    // A token never carries more than its operator has now.
    const role = roleCovers(row.operator_role as OperatorRole, row.role as OperatorRole)
      ? (row.role as OperatorRole)
      : (row.operator_role as OperatorRole);
    if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > 60_000) {
      await this.#o.db
        .updateTable('api_tokens')
        .set({ last_used_at: now })
        .where('id', '=', row.id)
        .execute();
    }
    return {
      kind: 'operator',
      operatorId: row.operator_id,
      username: row.username,
      role,
      tokenId: row.id,
      address,
    };
  }

  async createToken(actor: Principal, input: CreateTokenInput): Promise<IssuedToken> {
    const operator = await this.#findById(actor);
    const role = input.role ?? actor.role;
    if (!roleCovers(actor.role, role)) {
      throw new ForbiddenError(`a ${actor.role} cannot create a token with role ${role}`, { field: 'role' });
    }
    const expiresAt = input.expiresInDays
      ? new Date(this.#o.clock.now().getTime() + input.expiresInDays * 86_400_000)
      : undefined;
    return this.#o.db
      .transaction()
      .execute((tx) =>
        this.#insertToken(
          tx,
          operator,
          { name: input.name, role, expiresAt },
          actorName(actor),
          actor.address,
        ),
      );
  }

  async listTokens(actor: Principal): Promise<TokenView[]> {
    let query = this.#o.db
      .selectFrom('api_tokens')
      .innerJoin('operators', 'operators.id', 'api_tokens.operator_id')
      .selectAll('api_tokens')
      .select('operators.username');
    if (actor.role !== 'owner') query = query.where('operators.username', '=', actor.username);
    const rows = await query.orderBy('api_tokens.id').execute();
    return rows.map((r) => tokenView(r, r.username));
  }

  async revokeToken(actor: Principal, id: string): Promise<TokenView> {
    if (!/^\d{1,18}$/.test(id)) {
      throw new InputError(`token id ${showValue(id)} is not a number; "steward token list" shows the ids`, {
        field: 'id',
      });
    }
    return this.#o.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('api_tokens')
        .innerJoin('operators', 'operators.id', 'api_tokens.operator_id')
        .selectAll('api_tokens')
        .select('operators.username')
        .where('api_tokens.id', '=', id)
        .executeTakeFirst();
      if (!row || (actor.role !== 'owner' && row.username !== actor.username)) {
        throw new NotFoundError(`token ${id} does not exist`, { field: 'id' });
      }
      const revokedAt = row.revoked_at ?? this.#o.clock.now();
      await tx.updateTable('api_tokens').set({ revoked_at: revokedAt }).where('id', '=', id).execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'token.revoke',
        target: `token/${id}`,
        details: { name: row.name, operator: row.username },
      });
      return tokenView({ ...row, revoked_at: revokedAt }, row.username);
    });
  }

  async changePassword(actor: Principal, currentPassword: string, newPassword: string): Promise<void> {
    const operator = await this.#findById(actor);
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
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'operator.password.change',
        target: `operator/${operator.username}`,
      });
    });
  }

  /** Starts TOTP enrolment: the secret is stored but not enforced until a code verifies it. */
  async enrollMfa(actor: Principal): Promise<{ secret: string; uri: string }> {
    const operator = await this.#findById(actor);
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
    const operator = await this.#findById(actor);
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

  /** Counts a login attempt against its address; the count is returned when the attempt succeeds. */
  async #chargeAddress(address: string, now: Date): Promise<{ failures: number; window_start: Date }> {
    const windowStart = new Date(now.getTime() - this.#o.limits.addressWindowSeconds * 1000);
    return this.#o.db
      .insertInto('login_failures')
      .values({ address, window_start: now, failures: 1 })
      .onConflict((oc) =>
        oc.column('address').doUpdateSet((eb) => ({
          failures: eb
            .case()
            .when('login_failures.window_start', '<', windowStart)
            .then(1)
            .else(eb('login_failures.failures', '+', 1))
            .end(),
          window_start: eb
            .case()
            .when('login_failures.window_start', '<', windowStart)
            .then(now)
            .else(eb.ref('login_failures.window_start'))
            .end(),
        })),
      )
      .returning(['failures', 'window_start'])
      .executeTakeFirstOrThrow();
  }

  /** The right credentials: the attempt was no failure, for the account or the address. */
  async #settle(operatorId: string, address: string): Promise<void> {
    await this.#o.db.transaction().execute(async (tx) => {
      await tx.updateTable('operators').set({ failed_logins: 0 }).where('id', '=', operatorId).execute();
      await tx
        .updateTable('login_failures')
        .set((eb) => ({ failures: sql<number>`greatest(${eb.ref('failures')} - 1, 0)` }))
        .where('address', '=', address)
        .execute();
    });
  }

  /**
   * Records a failed login. The attempt was already counted; `attempt` is the
   * account's count including it (0 when there is no account to lock).
   */
  async #failed(username: string, address: string, reason: string, attempt: number): Promise<void> {
    const now = this.#o.clock.now();
    const limits = this.#o.limits;
    await this.#o.db.transaction().execute(async (tx) => {
      const locked = attempt >= limits.maxFailuresPerAccount;
      if (locked) {
        await tx
          .updateTable('operators')
          .set({ locked_until: new Date(now.getTime() + limits.lockoutSeconds * 1000), failed_logins: 0 })
          .where('username', '=', username)
          .execute();
      }
      const name = username.slice(0, 64);
      await this.#o.audit.record(tx, {
        actor: `operator:${name}`,
        action: 'operator.login',
        target: `operator/${name}`,
        outcome: 'failure',
        address,
        details: { reason, ...(locked ? { locked: true, lockoutSeconds: limits.lockoutSeconds } : {}) },
      });
    });
  }

  async #insertToken(
    tx: Queryable,
    operator: { id: string; username: string },
    spec: { name: string; role: OperatorRole; expiresAt?: Date | undefined },
    actor: string,
    address: string | null = null,
  ): Promise<IssuedToken> {
    const issued = newApiToken();
    const row = await tx
      .insertInto('api_tokens')
      .values({
        operator_id: operator.id,
        name: spec.name,
        role: spec.role,
        token_hash: issued.hash,
        prefix: issued.prefix,
        expires_at: spec.expiresAt ?? null,
        revoked_at: null,
        last_used_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.#o.audit.record(tx, {
      actor,
      address,
      action: 'token.create',
      target: `token/${row.id}`,
      details: {
        name: spec.name,
        role: spec.role,
        operator: operator.username,
        expiresAt: spec.expiresAt?.toISOString() ?? null,
      },
    });
    return { ...tokenView(row, operator.username), token: issued.token };
  }

  async #find(username: string): Promise<OperatorRow> {
    const row = await this.#o.db
      .selectFrom('operators')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    if (!row)
      throw new NotFoundError(`operator ${showValue(username)} does not exist`, { field: 'username' });
    return row;
  }

  async #findById(actor: Principal): Promise<OperatorRow> {
    if (!actor.operatorId) throw new ForbiddenError('this action needs an operator, not Steward itself');
    const row = await this.#o.db
      .selectFrom('operators')
      .selectAll()
      .where('id', '=', actor.operatorId)
      .executeTakeFirst();
    if (!row) throw new UnauthorizedError('the operator of this token no longer exists');
    return row;
  }

  #view(row: OperatorRow): OperatorView {
    return {
      username: row.username,
      role: row.role as OperatorRole,
      mfa: row.totp_enabled,
      mustChangePassword: row.must_change_password,
      lockedUntil:
        row.locked_until && row.locked_until > this.#o.clock.now() ? row.locked_until.toISOString() : null,
      lastLoginAt: row.last_login_at?.toISOString() ?? null,
      createdAt: row.created_at.toISOString(),
    };
  }
}

function tokenView(
  row: {
    id: string;
    name: string;
    role: string;
    prefix: string;
    expires_at: Date | null;
    revoked_at: Date | null;
    last_used_at: Date | null;
    created_at: Date;
  },
  operator: string,
): TokenView {
  return {
    id: row.id,
    name: row.name,
    role: row.role as OperatorRole,
    operator,
    prefix: row.prefix,
    expiresAt: row.expires_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}
