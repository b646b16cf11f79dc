import { createHash } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { sql } from 'kysely';
import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import type { ControlDb, Queryable } from '../../store/db.ts';
import type { SignInPlace } from '../contracts.ts';
import { hashRecoveryCode, newRecoveryCodes } from '../credentials.ts';
import type { DirectoryPort } from './directory.ts';
import type { LoginEvents } from './login-log.ts';
import type { Tickets } from './tickets.ts';

/**
 * WebAuthn security keys as a second factor for local users, with
 * @simplewebauthn/server. The one writer of tenant_user_webauthn_credentials.
 *
 * The RP id is the stage's host and the expected origin is
 * `https://<host>[:port]` as the browser sent it (the pages' CSRF check has
 * already matched Origin against Host). A ceremony's challenge is derived
 * from a signed, short-lived ticket (tickets.ts): the sign-in's MFA
 * challenge, single use through its hash kept with the credentials, or a
 * registration ticket bound to the user and host. Nothing to store, nothing
 * to forge; a replayed registration finds its credential id taken.
 */

/** The WebAuthn challenge of a ticket: what the authenticator signs, never the ticket itself. */
export function ceremonyChallenge(ticket: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(`webauthn\n${ticket}`).digest());
}

const expectedChallenge = (ticket: string): string =>
  Buffer.from(ceremonyChallenge(ticket)).toString('base64url');

/** How long the browser may take to create or use a key. */
const ceremonySeconds = 300;
const maxKeys = 10;
const maxResponse = 16 * 1024;

/** A key's name as the user gives it: 1 to 64 printable characters. */
export function keyNameProblem(name: string): string | undefined {
  return /^[^\p{C}]{1,64}$/u.test(name) && name.trim() === name && name.length > 0
    ? undefined
    : `Key name: ${JSON.stringify(name.slice(0, 80))} is not accepted; use 1 to 64 printable characters without a space at either end.`;
}

/** A response the browser posted (JSON of a PublicKeyCredential), or undefined when it is not one. */
export function parseCredentialResponse<T extends RegistrationResponseJSON | AuthenticationResponseJSON>(
  text: string,
  kind: 'registration' | 'authentication',
): T | undefined {
  if (text.length === 0 || text.length > maxResponse) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const inner = r.response as Record<string, unknown> | undefined;
  const field = kind === 'registration' ? 'attestationObject' : 'signature';
  if (
    typeof r.id !== 'string' ||
    r.type !== 'public-key' ||
    typeof inner !== 'object' ||
    inner === null ||
    typeof inner.clientDataJSON !== 'string' ||
    typeof inner[field] !== 'string'
  ) {
    return undefined;
  }
  return value as T;
}

export interface SecurityKeyView {
  readonly name: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

export type RegistrationStart =
  | { readonly kind: 'problem'; readonly message: string }
  | { readonly kind: 'options'; readonly ticket: string; readonly options: string };

export type RegistrationOutcome =
  | { readonly kind: 'problem'; readonly message: string }
  | {
      readonly kind: 'done';
      readonly userName: string;
      /** New recovery codes when the user had none (a key is the only second factor). */
      readonly recoveryCodes: readonly string[] | undefined;
    };

export interface WebauthnOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly directory: DirectoryPort;
  readonly log: LoginEvents;
  readonly tickets: Tickets;
}

export class LocalWebauthn {
  readonly #o: WebauthnOptions;

  constructor(options: WebauthnOptions) {
    this.#o = options;
  }

  /** The user's keys for this host (the RP id). */
  async keys(userId: string, rpId: string): Promise<SecurityKeyView[]> {
    const rows = await this.#rows(this.#o.db, userId, rpId);
    return rows.map((r) => ({
      name: r.name,
      createdAt: r.created_at.toISOString(),
      lastUsedAt: r.last_used_at?.toISOString() ?? null,
    }));
  }

  /**
   * Where the user has keys: for this host (the sign-in offers one after the
   * password), only for other hosts (a key answers for its own host only; the
   * sign-in still asks for a second factor here: TOTP or a recovery code), or none.
   */
  async keysFor(userId: string, rpId: string): Promise<'here' | 'elsewhere' | 'none'> {
    const rows = await this.#o.db
      .selectFrom('tenant_user_webauthn_credentials')
      .select('rp_id')
      .distinct()
      .where('user_id', '=', userId)
      .execute();
    if (rows.some((r) => r.rp_id === rpId)) return 'here';
    return rows.length > 0 ? 'elsewhere' : 'none';
  }

  /** A signed-in local user starts adding a key: the creation options and the ticket that carries the ceremony. */
  async startRegistration(
    place: SignInPlace & { tenantName: string },
    userId: string,
  ): Promise<RegistrationStart> {
    const user = await this.#o.directory.getUser(place.tenantId, userId);
    if (!user?.active) return { kind: 'problem', message: 'Sign in first.' };
    const credentials = await this.#o.db
      .selectFrom('tenant_user_credentials')
      .select('password_hash')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!credentials?.password_hash) {
      return {
        kind: 'problem',
        message: 'Only users who sign in with a password here add security keys here.',
      };
    }
    const existing = await this.#rows(this.#o.db, userId, place.host);
    if (existing.length >= maxKeys) {
      return {
        kind: 'problem',
        message: `You have ${maxKeys} security keys, the most allowed; ask your administrator to reset them.`,
      };
    }
    const ticket = this.#o.tickets.issue({
      purpose: 'webauthn-registration',
      tenantId: place.tenantId,
      host: place.host,
      userId,
      expiresAt: Math.floor(this.#o.clock.now().getTime() / 1000) + ceremonySeconds,
    });
    const options = await generateRegistrationOptions({
      rpName: place.tenantName,
      rpID: place.host,
      userName: user.userName,
      userDisplayName: user.displayName ?? user.userName,
      userID: new Uint8Array(Buffer.from(user.id, 'utf8')),
      challenge: ceremonyChallenge(ticket),
      timeout: ceremonySeconds * 1000,
      attestationType: 'none',
      excludeCredentials: existing.map((r) => ({
        id: r.credential_id,
        transports: transportsOf(r.transports),
      })),
      authenticatorSelection: { residentKey: 'discouraged', userVerification: 'preferred' },
    });
    return { kind: 'options', ticket, options: JSON.stringify(options) };
  }

  /** The browser's new credential: verified against the ticket's challenge, this host and origin, then kept. */
  async finishRegistration(
    place: SignInPlace,
    origin: string,
    userId: string,
    input: { readonly ticket: string; readonly response: string; readonly name: string },
  ): Promise<RegistrationOutcome> {
    const now = this.#o.clock.now();
    const nameProblem = keyNameProblem(input.name);
    if (nameProblem) return { kind: 'problem', message: nameProblem };
    const ticket = this.#o.tickets.open(
      input.ticket,
      { purpose: 'webauthn-registration', tenantId: place.tenantId, host: place.host },
      now,
    );
    const user = await this.#o.directory.getUser(place.tenantId, userId);
    if (!ticket || ticket.userId !== userId || !user?.active) {
      return { kind: 'problem', message: 'The page ran out of time; open it again and add the key again.' };
    }
    const response = parseCredentialResponse<RegistrationResponseJSON>(input.response, 'registration');
    const verified = response
      ? await verifyRegistrationResponse({
          response,
          expectedChallenge: expectedChallenge(input.ticket),
          expectedOrigin: origin,
          expectedRPID: place.host,
          requireUserVerification: false,
        }).catch(() => undefined)
      : undefined;
    if (!verified?.verified) {
      return { kind: 'problem', message: 'The security key did not answer as expected; try again.' };
    }
    const { credential } = verified.registrationInfo;
    return this.#o.db.transaction().execute(async (tx) => {
      const held = await tx
        .selectFrom('tenant_user_credentials')
        .select(['password_hash', 'recovery_codes'])
        .where('user_id', '=', userId)
        .forUpdate()
        .executeTakeFirst();
      if (!held?.password_hash) return { kind: 'problem' as const, message: 'Sign in first.' };
      const added = await tx
        .insertInto('tenant_user_webauthn_credentials')
        .values({
          credential_id: credential.id,
          user_id: userId,
          tenant_id: place.tenantId,
          rp_id: place.host,
          public_key: Buffer.from(credential.publicKey),
          counter: String(credential.counter),
          transports: JSON.stringify(credential.transports ?? []),
          name: input.name,
          created_at: now,
        })
        .onConflict((oc) => oc.column('credential_id').doNothing())
        .returning('credential_id')
        .executeTakeFirst();
      if (!added) return { kind: 'problem' as const, message: 'This security key is added already.' };
      const codes = held.recovery_codes.length === 0 ? newRecoveryCodes() : undefined;
      await tx
        .updateTable('tenant_user_credentials')
        .set({
          ...(codes ? { recovery_codes: JSON.stringify(codes.map(hashRecoveryCode)) } : {}),
          mfa_enrolled_at: now,
          updated_at: now,
        })
        .where('user_id', '=', userId)
        .execute();
      await this.#o.log.recordIn(tx, {
        tenantId: place.tenantId,
        stage: place.stage,
        userId,
        userName: user.userName,
        method: 'mfa_enrolled',
        outcome: 'success',
        reason: null,
        address: place.address,
        detail: `security key ${input.name}`,
      });
      await this.#o.audit.record(tx, {
        actor: `tenant-user:${place.tenant}/${user.userName}`,
        address: place.address,
        action: 'tenant-user.webauthn.add',
        target: `tenant/${place.tenant}/user/${user.userName}`,
        tenant: place.tenant,
        details: { key: input.name, host: place.host },
      });
      return { kind: 'done' as const, userName: user.userName, recoveryCodes: codes };
    });
  }

  /** The request options for the sign-in's key step: the MFA challenge ticket carries the ceremony. */
  async authenticationOptions(userId: string, rpId: string, challengeTicket: string): Promise<string> {
    const rows = await this.#rows(this.#o.db, userId, rpId);
    const options = await generateAuthenticationOptions({
      rpID: rpId,
      challenge: ceremonyChallenge(challengeTicket),
      timeout: ceremonySeconds * 1000,
      userVerification: 'preferred',
      allowCredentials: rows.map((r) => ({ id: r.credential_id, transports: transportsOf(r.transports) })),
    });
    return JSON.stringify(options);
  }

  /**
   * An assertion for the sign-in whose (already consumed) MFA challenge is
   * `challengeTicket`: one of the user's keys for this host, signed over this
   * challenge and origin, with a counter past the last one seen (0 stays 0 for
   * keys without one). The counter moves only if no other sign-in moved it.
   */
  async verifyAssertion(
    place: SignInPlace,
    origin: string,
    userId: string,
    challengeTicket: string,
    text: string,
  ): Promise<{ readonly ok: true; readonly key: string } | { readonly ok: false; readonly detail: string }> {
    const response = parseCredentialResponse<AuthenticationResponseJSON>(text, 'authentication');
    if (!response) return { ok: false, detail: 'security key answer malformed' };
    const row = await this.#o.db
      .selectFrom('tenant_user_webauthn_credentials')
      .selectAll()
      .where('credential_id', '=', response.id)
      .where('user_id', '=', userId)
      .where('rp_id', '=', place.host)
      .executeTakeFirst();
    if (!row) return { ok: false, detail: "security key not one of the user's for this host" };
    let result;
    try {
      result = await verifyAuthenticationResponse({
        response,
        expectedChallenge: expectedChallenge(challengeTicket),
        expectedOrigin: origin,
        expectedRPID: place.host,
        credential: {
          id: row.credential_id,
          publicKey: new Uint8Array(row.public_key),
          counter: Number(row.counter),
          transports: transportsOf(row.transports),
        },
        requireUserVerification: false,
      });
    } catch (error) {
      // The library's message names what failed (challenge, origin, signature, counter); it holds no secret.
      return {
        ok: false,
        detail: `security key refused: ${error instanceof Error ? error.message.slice(0, 200) : 'error'}`,
      };
    }
    if (!result.verified) return { ok: false, detail: 'security key signature wrong' };
    const updated = await this.#o.db
      .updateTable('tenant_user_webauthn_credentials')
      .set({ counter: String(result.authenticationInfo.newCounter), last_used_at: this.#o.clock.now() })
      .where('credential_id', '=', row.credential_id)
      .where('counter', '=', row.counter)
      .executeTakeFirst();
    if (updated.numUpdatedRows !== 1n)
      return { ok: false, detail: 'security key used by another sign-in at once' };
    return { ok: true, key: row.name };
  }

  #rows(db: Queryable, userId: string, rpId: string) {
    return db
      .selectFrom('tenant_user_webauthn_credentials')
      .selectAll()
      .where('user_id', '=', userId)
      .where('rp_id', '=', rpId)
      .orderBy('created_at')
      .execute();
  }
}

/** Removes a user's keys (`steward user reset-mfa`); returns how many there were. */
export async function removeSecurityKeys(tx: Queryable, userId: string): Promise<number> {
  const removed = await tx
    .deleteFrom('tenant_user_webauthn_credentials')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(removed.numDeletedRows);
}

/** How many keys each of these users has (any host). */
export async function securityKeyCounts(
  db: Queryable,
  userIds: readonly string[],
): Promise<Map<string, number>> {
  if (userIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('tenant_user_webauthn_credentials')
    .select(['user_id', sql<string>`count(*)`.as('keys')])
    .where('user_id', 'in', userIds)
    .groupBy('user_id')
    .execute();
  return new Map(rows.map((r) => [r.user_id, Number(r.keys)]));
}

const transportValues = ['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'] as const;
type Transport = (typeof transportValues)[number];

function transportsOf(value: unknown): Transport[] {
  return Array.isArray(value)
    ? value.filter((t): t is Transport => (transportValues as readonly unknown[]).includes(t))
    : [];
}
