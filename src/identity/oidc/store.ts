import { sql, type Selectable } from 'kysely';
import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import { ConflictError, NotFoundError, showValue } from '../../core/errors.ts';
import { actorName, type Principal } from '../../core/policy.ts';
import type { SecretService } from '../../secrets/service.ts';
import type { ControlDb } from '../../store/db.ts';
import type { OidcConnectionsTable } from '../../store/schema-identity.ts';
import type { ConnectionKind } from './issuer.ts';
import { issuerTrust } from './issuer.ts';
import { viewOf, type OidcConnection, type OidcConnectionView, type ResolvedInput } from './connections.ts';

/**
 * The one writer of oidc_connections, user_identities and oidc_used_states.
 * A connection's client secret is sealed in `secrets` in the same transaction
 * as its row and its audit event.
 */
export class OidcStore {
  readonly #db: ControlDb;
  readonly #secrets: SecretService;
  readonly #audit: AuditService;
  readonly #clock: Clock;

  constructor(db: ControlDb, secrets: SecretService, audit: AuditService, clock: Clock) {
    this.#db = db;
    this.#secrets = secrets;
    this.#audit = audit;
    this.#clock = clock;
  }

  /** A tenant's id by slug, or NotFoundError naming it. */
  async tenantId(slug: string): Promise<string> {
    const row = await this.#db.selectFrom('tenants').select('id').where('slug', '=', slug).executeTakeFirst();
    if (!row)
      throw new NotFoundError(`field "tenant": there is no tenant ${showValue(slug)}`, { field: 'tenant' });
    return row.id;
  }

  async add(
    slug: string,
    input: ResolvedInput,
    clientSecret: string,
    actor: Principal,
  ): Promise<OidcConnectionView> {
    const tenantId = await this.tenantId(slug);
    if (input.stage !== null) {
      const stage = await this.#db
        .selectFrom('stages')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('name', '=', input.stage)
        .executeTakeFirst();
      if (!stage) {
        throw new NotFoundError(`field "stage": tenant ${slug} has no stage ${showValue(input.stage)}`, {
          field: 'stage',
        });
      }
    }
    const secretName = `oidc/${tenantId}/${input.name}`;
    const allowedTids =
      input.trust.kind === 'template' ? input.trust.allowedTids : input.trust.tid ? [input.trust.tid] : [];
    const row = await this.#db.transaction().execute(async (tx) => {
      const inserted = await tx
        .insertInto('oidc_connections')
        .values({
          tenant_id: tenantId,
          name: input.name,
          stage: input.stage,
          label: input.label,
          kind: input.kind,
          issuer: input.issuer,
          client_id: input.clientId,
          secret_name: secretName,
          scopes: [...input.scopes],
          allowed_tids: [...allowedTids],
          join_claim: input.joinClaim,
          groups_claim: input.groupsClaim,
          graph_url: input.graphUrl,
          provision: input.provision,
        })
        .onConflict((oc) => oc.doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!inserted) {
        throw new ConflictError(
          `field "name": tenant ${slug} already has an OIDC connection ${showValue(input.name)}; remove it first or pick another name`,
          { field: 'name' },
        );
      }
      await this.#secrets.put(tx, secretName, clientSecret);
      await this.#audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'identity.oidc.add',
        target: `tenant/${slug}/oidc/${input.name}`,
        tenant: slug,
        details: {
          kind: input.kind,
          issuer: input.issuer,
          clientId: input.clientId,
          allowedTids,
          stage: input.stage,
        },
      });
      return inserted;
    });
    return viewOf(connectionOf(row));
  }

  async list(slug: string): Promise<OidcConnectionView[]> {
    const tenantId = await this.tenantId(slug);
    const rows = await this.#db
      .selectFrom('oidc_connections')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('name')
      .execute();
    return rows.map((row) => viewOf(connectionOf(row)));
  }

  async remove(slug: string, name: string, actor: Principal): Promise<{ readonly removed: string }> {
    const tenantId = await this.tenantId(slug);
    await this.#db.transaction().execute(async (tx) => {
      const row = await tx
        .deleteFrom('oidc_connections')
        .where('tenant_id', '=', tenantId)
        .where('name', '=', name)
        .returning('secret_name')
        .executeTakeFirst();
      if (!row) {
        throw new NotFoundError(`tenant ${slug} has no OIDC connection ${showValue(name)}`, {
          field: 'name',
        });
      }
      await this.#secrets.remove(tx, row.secret_name);
      await this.#audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'identity.oidc.remove',
        target: `tenant/${slug}/oidc/${name}`,
        tenant: slug,
      });
    });
    return { removed: name };
  }

  /** The connections offered on a stage's hosts. */
  async forStage(tenantId: string, stage: string): Promise<OidcConnection[]> {
    const rows = await this.#db
      .selectFrom('oidc_connections')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where((eb) => eb.or([eb('stage', 'is', null), eb('stage', '=', stage)]))
      .orderBy('name')
      .execute();
    return rows.map(connectionOf);
  }

  clientSecret(connection: OidcConnection): Promise<string> {
    return this.#secrets.get(connection.secretName);
  }

  /** The directory user an IdP subject was joined to, if any. */
  async linkedUser(connectionId: string, issuer: string, subject: string): Promise<string | undefined> {
    const row = await this.#db
      .updateTable('user_identities')
      .set({ last_used_at: this.#clock.now() })
      .where('connection_id', '=', connectionId)
      .where('issuer', '=', issuer)
      .where('subject', '=', subject)
      .returning('user_id')
      .executeTakeFirst();
    return row?.user_id;
  }

  /** Joins an IdP subject to a user; a subject already joined keeps its user (first writer wins). */
  async link(connectionId: string, issuer: string, subject: string, userId: string): Promise<void> {
    await this.#db
      .insertInto('user_identities')
      .values({ connection_id: connectionId, issuer, subject, user_id: userId })
      .onConflict((oc) => oc.columns(['connection_id', 'issuer', 'subject']).doNothing())
      .execute();
  }

  /**
   * Marks a flow's state used; false when it was used before (a replayed
   * callback). Expired states are swept on the way.
   */
  async useState(hash: string, expiresAt: Date): Promise<boolean> {
    const now = this.#clock.now();
    await this.#db.deleteFrom('oidc_used_states').where('expires_at', '<', now).execute();
    const row = await this.#db
      .insertInto('oidc_used_states')
      .values({ state_hash: hash, expires_at: expiresAt })
      .onConflict((oc) => oc.column('state_hash').doNothing())
      .returning(sql<number>`1`.as('fresh'))
      .executeTakeFirst();
    return row !== undefined;
  }
}

export function connectionOf(row: Selectable<OidcConnectionsTable>): OidcConnection {
  const kind = row.kind as ConnectionKind;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    stage: row.stage,
    label: row.label,
    kind,
    issuer: row.issuer,
    trust: issuerTrust(kind, row.issuer, row.allowed_tids),
    clientId: row.client_id,
    secretName: row.secret_name,
    scopes: row.scopes,
    joinClaim: row.join_claim,
    groupsClaim: row.groups_claim,
    graphUrl: row.graph_url,
    provision: row.provision,
  };
}
