import { createPublicKey } from 'node:crypto';
import { SignJWT, jwtVerify, decodeProtectedHeader, errors as joseErrors } from 'jose';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { routesChannel } from '../../gateway/state.ts';
import type { ControlDb } from '../../store/db.ts';
import type { Directory } from '../directory/index.ts';
import type { RoleResolver, SignInPlace } from '../contracts.ts';
import {
  buildClaims,
  planRefresh,
  sessionIssuer,
  tokenLifetimeSeconds,
  type IdentityClaims,
  type SessionSubject,
} from './claims.ts';
import { jwksOf, type SessionKeys } from './keys.ts';
import type { IdentitySettings } from './settings.ts';

/**
 * End users' sessions (table end_user_sessions): open on sign-in, refresh
 * through Steward (which applies revocation, the timeouts and the user's
 * current state), revoke. Every revocation tells the data plane (a NOTIFY
 * on the routes channel), which puts the sid into HAProxy's revoked map
 * until its last token has expired.
 */

/** What sessions need of the directory (sessionDirectory adapts id-scim's Directory; its user-gone listener calls revokeUser). */
export interface SessionDirectory {
  user(
    tenantId: string,
    userId: string,
  ): Promise<
    | {
        readonly id: string;
        readonly userName: string;
        readonly email: string | null;
        readonly name: string | null;
        readonly active: boolean;
      }
    | undefined
  >;
  /** The user's groups (display names). */
  groupsOf(tenantId: string, userId: string): Promise<readonly string[]>;
  recordSignIn?(tenantId: string, userId: string, at: Date): Promise<void>;
}

/** Who a session is opened for: a directory user, or an operator's break-glass access. */
export type SessionFor =
  { readonly kind: 'user'; readonly userId: string } | { readonly kind: 'operator'; readonly name: string };

export type RevokeReason = 'logout' | 'logout_everywhere' | 'deactivated' | 'deleted' | 'revoked' | 'rotated';

export interface OpenedSession {
  readonly sid: string;
  readonly token: string;
  readonly claims: IdentityClaims;
  /** The session's absolute end: the cookie's Max-Age. */
  readonly notAfter: Date;
}

export type RefreshOutcome =
  | { readonly kind: 'minted'; readonly session: OpenedSession }
  | { readonly kind: 'sign-in-again'; readonly why: string };

export interface EdgeSessionState {
  readonly keys: readonly { readonly kid: string; readonly publicPem: string }[];
  /** Stages whose sign-in is required or optional, by tenant slug and stage name. */
  readonly signIn: readonly {
    readonly tenant: string;
    readonly stage: string;
    readonly mode: 'required' | 'optional';
  }[];
  /** Revoked sessions whose last token has not expired yet. */
  readonly revoked: readonly string[];
}

export interface SessionServiceOptions {
  readonly db: ControlDb;
  readonly keys: SessionKeys;
  readonly settings: IdentitySettings;
  readonly directory: SessionDirectory;
  readonly roles?: RoleResolver;
  readonly clock: Clock;
  readonly logger: Logger;
}

const operatorPrefix = 'operator:';

export class SessionService {
  readonly #o: SessionServiceOptions;
  #roles: RoleResolver | undefined;

  constructor(options: SessionServiceOptions) {
    this.#o = options;
    this.#roles = options.roles;
  }

  /** id-roles plugs its resolver in once it exists (until then, nobody has roles). */
  useRoles(roles: RoleResolver): void {
    this.#roles = roles;
  }

  get keys(): SessionKeys {
    return this.#o.keys;
  }

  /**
   * A new session (login, break-glass): a new row and sid, its first token.
   * `expiresAt` caps the session's absolute end (break-glass grants).
   */
  async open(
    place: SignInPlace,
    who: SessionFor,
    amr: readonly string[],
    expiresAt?: Date,
  ): Promise<OpenedSession> {
    const now = this.#o.clock.now();
    const settings = await this.#o.settings.resolve(place.tenantId, place.stage);
    const absolute = new Date(now.getTime() + settings.absoluteHours * 3_600_000);
    const notAfter = expiresAt && expiresAt < absolute ? expiresAt : absolute;
    const idle = new Date(Math.min(now.getTime() + settings.idleMinutes * 60_000, notAfter.getTime()));
    const subject = await this.#subject(place, who);
    const row = await this.#o.db
      .insertInto('end_user_sessions')
      .values({
        tenant_id: place.tenantId,
        stage: place.stage,
        subject: subject.subject,
        user_id: who.kind === 'user' ? who.userId : null,
        host: place.host,
        amr: [...amr],
        idle_expires_at: idle,
        absolute_expires_at: notAfter,
        token_expires_at: new Date(now.getTime() + tokenLifetimeSeconds * 1000),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (who.kind === 'user') await this.#o.directory.recordSignIn?.(place.tenantId, who.userId, now);
    const session = await this.#mint(place, row.id, subject, amr, notAfter, now);
    this.#o.logger.info({ tenant: place.tenant, stage: place.stage, sid: row.id }, 'end-user session opened');
    return session;
  }

  /**
   * A new token for the session the (possibly expired) token names: only if
   * the row is not revoked and within its timeouts, and the user is still
   * active; groups and roles are read afresh.
   */
  async refresh(place: SignInPlace, token: string): Promise<RefreshOutcome> {
    const claims = await this.verify(token, { ignoreExpiry: true });
    if (
      !claims ||
      claims.host !== place.host ||
      claims.tenant !== place.tenant ||
      claims.stage !== place.stage
    ) {
      return { kind: 'sign-in-again', why: 'no valid session for this host' };
    }
    const row = await this.#o.db
      .selectFrom('end_user_sessions')
      .selectAll()
      .where('id', '=', claims.sid)
      .where('tenant_id', '=', place.tenantId)
      .executeTakeFirst();
    const now = this.#o.clock.now();
    const user =
      row === undefined || row.subject.startsWith(operatorPrefix)
        ? ('not-a-user' as const)
        : row.user_id === null
          ? undefined
          : await this.#o.directory.user(place.tenantId, row.user_id);
    const plan = planRefresh(
      row && {
        revokedAt: row.revoked_at,
        idleExpiresAt: row.idle_expires_at,
        absoluteExpiresAt: row.absolute_expires_at,
      },
      user,
      now,
    );
    if (plan.kind === 'sign-in-again' || !row) {
      const why = plan.kind === 'sign-in-again' ? plan.why : 'unknown';
      if (plan.kind === 'sign-in-again' && plan.revoke && row && row.revoked_at === null) {
        await this.revokeSession(row.id, plan.revoke === 'expired' ? 'revoked' : plan.revoke);
      }
      return { kind: 'sign-in-again', why };
    }
    const settings = await this.#o.settings.resolve(place.tenantId, place.stage);
    const idle = new Date(
      Math.min(now.getTime() + settings.idleMinutes * 60_000, row.absolute_expires_at.getTime()),
    );
    const updated = await this.#o.db
      .updateTable('end_user_sessions')
      .set({
        last_seen_at: now,
        idle_expires_at: idle,
        token_expires_at: new Date(now.getTime() + tokenLifetimeSeconds * 1000),
      })
      .where('id', '=', row.id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    // Revoked between the read and now: no new token.
    if (updated.numUpdatedRows === 0n) return { kind: 'sign-in-again', why: 'revoked' };
    const who: SessionFor = row.subject.startsWith(operatorPrefix)
      ? { kind: 'operator', name: row.subject.slice(operatorPrefix.length) }
      : { kind: 'user', userId: row.user_id ?? '' };
    const subject = await this.#subject(place, who);
    return {
      kind: 'minted',
      session: await this.#mint(place, row.id, subject, row.amr, row.absolute_expires_at, now),
    };
  }

  /** Verifies a token with the published keys; `ignoreExpiry` for refresh. Undefined when it is not ours. */
  async verify(token: string, options: { ignoreExpiry?: boolean } = {}): Promise<IdentityClaims | undefined> {
    if (token.length > 8192) return undefined;
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      return undefined;
    }
    const key = (await this.#o.keys.published()).find((k) => k.kid === kid);
    if (!key) return undefined;
    try {
      const { payload } = await jwtVerify(token, createPublicKey(key.publicPem), {
        algorithms: ['ES256'],
        issuer: sessionIssuer,
        ...(options.ignoreExpiry ? { currentDate: new Date(0) } : { currentDate: this.#o.clock.now() }),
      });
      return payload as unknown as IdentityClaims;
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) return undefined;
      throw error;
    }
  }

  /** Ends one session (logout, rotation on login, an admin's revoke); the edge refuses its tokens at once. */
  async revokeSession(sid: string, reason: RevokeReason = 'revoked'): Promise<boolean> {
    const result = await this.#o.db
      .updateTable('end_user_sessions')
      .set({ revoked_at: this.#o.clock.now(), revoked_reason: reason })
      .where('id', '=', sid)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    const revoked = result.numUpdatedRows > 0n;
    if (revoked) await this.#tellEdge();
    return revoked;
  }

  /** Ends every session of a user (logout everywhere, deactivation, deletion). Returns how many. */
  async revokeUser(tenantId: string, userId: string, reason: RevokeReason = 'revoked'): Promise<number> {
    const result = await this.#o.db
      .updateTable('end_user_sessions')
      .set({ revoked_at: this.#o.clock.now(), revoked_reason: reason })
      .where('tenant_id', '=', tenantId)
      .where('subject', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    const count = Number(result.numUpdatedRows);
    if (count > 0) await this.#tellEdge();
    return count;
  }

  /** Whether a session is still on (not revoked, within its timeouts). */
  async isLive(sid: string): Promise<boolean> {
    const now = this.#o.clock.now();
    const row = await this.#o.db
      .selectFrom('end_user_sessions')
      .select('id')
      .where('id', '=', sid)
      .where('revoked_at', 'is', null)
      .where('idle_expires_at', '>', now)
      .where('absolute_expires_at', '>', now)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** A session's subject (its user id, or operator:<name>), to end all of its sessions. */
  async subjectOf(sid: string): Promise<{ tenantId: string; subject: string } | undefined> {
    const row = await this.#o.db
      .selectFrom('end_user_sessions')
      .select(['tenant_id', 'subject'])
      .where('id', '=', sid)
      .executeTakeFirst();
    return row ? { tenantId: String(row.tenant_id), subject: row.subject } : undefined;
  }

  /**
   * Rotates the session key: the next key (published and loaded by HAProxy
   * already) signs from now on, the current one retires (still verified
   * until its tokens expire), a new next key is made: one reload, to load it.
   */
  async rotateKeys(): Promise<{ readonly current: string; readonly next: string }> {
    const rotated = await this.#o.keys.rotate();
    await this.#tellEdge();
    return rotated;
  }

  /** The published keys as a JSON Web Key Set (text): the JWKS page and STEWARD_IDENTITY_JWKS. */
  async jwks(): Promise<string> {
    await this.#o.keys.ensure();
    return JSON.stringify(await jwksOf(await this.#o.keys.published()));
  }

  /** What HAProxy needs: the published keys, the stages that ask for sign-in, the revoked sids still alive. */
  async edgeState(): Promise<EdgeSessionState> {
    await this.#o.keys.ensure();
    const [keys, signIn, revoked] = await Promise.all([
      this.#o.keys.published(),
      this.#o.settings.edgeModes(),
      this.#o.db
        .selectFrom('end_user_sessions')
        .select('id')
        .where('revoked_at', 'is not', null)
        .where('token_expires_at', '>', this.#o.clock.now())
        .orderBy('id')
        .execute(),
    ]);
    return {
      keys: keys.map((key) => ({ kid: key.kid, publicPem: key.publicPem })),
      signIn,
      revoked: revoked.map((row) => row.id),
    };
  }

  async #tellEdge(): Promise<void> {
    await sql`select pg_notify(${routesChannel}, 'sessions')`.execute(this.#o.db);
  }

  async #subject(place: SignInPlace, who: SessionFor): Promise<SessionSubject> {
    if (who.kind === 'operator') {
      return {
        subject: `${operatorPrefix}${who.name}`,
        userName: who.name,
        email: null,
        name: `${who.name} (operator)`,
        groups: [],
        roles: [],
      };
    }
    const [user, groups] = await Promise.all([
      this.#o.directory.user(place.tenantId, who.userId),
      this.#o.directory.groupsOf(place.tenantId, who.userId),
    ]);
    const roles = this.#roles ? await this.#roles.rolesOf(place.tenantId, place.stage, groups) : [];
    return {
      subject: who.userId,
      userName: user?.userName ?? null,
      email: user?.email ?? null,
      name: user?.name ?? null,
      groups,
      roles,
    };
  }

  async #mint(
    place: SignInPlace,
    sid: string,
    subject: SessionSubject,
    amr: readonly string[],
    notAfter: Date,
    now: Date,
  ): Promise<OpenedSession> {
    const claims = buildClaims({
      ...subject,
      sid,
      tenant: place.tenant,
      stage: place.stage,
      host: place.host,
      amr,
      now,
      notAfter,
    });
    const key = await this.#o.keys.signing();
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
      .sign(key.privateKey);
    return { sid, token, claims, notAfter };
  }
}

/** The Directory (id-scim) as sessions use it. */
export function sessionDirectory(
  directory: Pick<Directory, 'getUser' | 'groupsOf' | 'recordSignIn'>,
): SessionDirectory {
  return {
    async user(tenantId, userId) {
      const user = await directory.getUser(tenantId, userId);
      return user
        ? {
            id: user.id,
            userName: user.userName,
            email: user.email,
            name: user.displayName,
            active: user.active,
          }
        : undefined;
    },
    async groupsOf(tenantId, userId) {
      return (await directory.groupsOf(tenantId, userId)).map((group) => group.displayName);
    },
    recordSignIn: (tenantId, userId, at) => directory.recordSignIn(tenantId, userId, at),
  };
}
