import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../../store/db.ts';
import { linkLifetimeSeconds, linkPage, linkProblem, type LinkKind } from './policy.ts';

/**
 * Signed single-use links (table identity_links): a random token in the
 * mail, only its SHA-256 in the database; a newer link of the same kind for
 * the same user revokes the older; using one marks it used in the same
 * transaction as the change it allows (the row is locked first, so two
 * concurrent uses cannot both pass).
 */
export const linkTokenPattern = /^[A-Za-z0-9_-]{43}$/;

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

export interface IssuedLink {
  readonly id: string;
  readonly token: string;
  readonly expiresAt: Date;
}

export async function issueLink(
  tx: Queryable,
  link: { tenantId: string; userId: string; kind: LinkKind; createdBy: string; now: Date },
): Promise<IssuedLink> {
  await tx
    .updateTable('identity_links')
    .set({ revoked_at: link.now })
    .where('user_id', '=', link.userId)
    .where('kind', '=', link.kind)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .execute();
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(link.now.getTime() + linkLifetimeSeconds[link.kind] * 1000);
  const row = await tx
    .insertInto('identity_links')
    .values({
      tenant_id: link.tenantId,
      user_id: link.userId,
      kind: link.kind,
      token_hash: digest(token),
      created_by: link.createdBy,
      created_at: link.now,
      expires_at: expiresAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, token, expiresAt };
}

/** The link's address: on the tenant's host, the token in a query parameter the access log redacts. */
export function linkUrl(origin: string, kind: LinkKind, token: string): string {
  return `${origin}/.steward/auth/${linkPage[kind]}?token=${token}`;
}

export interface OpenLink {
  readonly id: string;
  readonly userId: string;
}

/**
 * The link a token names, for this tenant and kind, if it can be used now;
 * else why not. With `lock`, the row stays locked to the end of `tx`.
 */
export async function findLink(
  tx: Queryable,
  query: { tenantId: string; kind: LinkKind; token: string; now: Date; lock?: boolean },
): Promise<OpenLink | { problem: NonNullable<ReturnType<typeof linkProblem>> }> {
  if (!linkTokenPattern.test(query.token)) return { problem: 'unknown' };
  let select = tx
    .selectFrom('identity_links')
    .select(['id', 'user_id', 'expires_at', 'used_at', 'revoked_at'])
    .where('token_hash', '=', digest(query.token))
    // A link of another tenant or kind is as unknown as a made-up one.
    .where('tenant_id', '=', query.tenantId)
    .where('kind', '=', query.kind);
  if (query.lock) select = select.forUpdate();
  const row = await select.executeTakeFirst();
  const problem = linkProblem(
    row && { expiresAt: row.expires_at, usedAt: row.used_at, revokedAt: row.revoked_at },
    query.now,
  );
  if (problem || !row) return { problem: problem ?? 'unknown' };
  return { id: row.id, userId: row.user_id };
}

export async function markUsed(tx: Queryable, id: string, now: Date): Promise<void> {
  await tx.updateTable('identity_links').set({ used_at: now }).where('id', '=', id).execute();
}

/** Whether the user has an invitation it has not used, that has not run out (user list). */
export async function pendingInvitations(tx: Queryable, tenantId: string, now: Date): Promise<Set<string>> {
  const rows = await tx
    .selectFrom('identity_links')
    .select('user_id')
    .where('tenant_id', '=', tenantId)
    .where('kind', '=', 'invitation')
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .execute();
  return new Set(rows.map((r) => r.user_id));
}
