import { join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import type { Region } from '../core/config.ts';
import { ConflictError, InputError, NotFoundError, showValue } from '../core/errors.ts';
import { newStageDatabaseName } from '../core/names.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { AuditService } from '../audit/service.ts';
import { availableTiers, driverFor, type DatabaseDrivers } from '../databases/driver.ts';
import { enqueue } from '../jobs/queue.ts';
import { randomSecret } from '../secrets/envelope.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import type { AddStageInput, CreateTenantInput } from './schemas.ts';
import { storedContacts, withContact, withoutContact, type Contact } from './contacts.ts';
import { insertStage, markStagesAbsent } from './stage-store.ts';
import { phaseOrder, tenantPage, type TenantFilter, type TenantSort } from './list.ts';
import type { Page, PageRequest } from '../store/keyset.ts';
import type { Selectable } from 'kysely';
import type { StagesTable, TenantsTable } from '../store/schema.ts';

export const stageJobKind = 'reconcile-stage';

export const stagePhases = ['pending', 'provisioning', 'ready', 'deleting', 'failed', 'paused'] as const;
export type StagePhase = (typeof stagePhases)[number];

export interface StageView {
  readonly name: string;
  readonly desired: 'present' | 'absent';
  readonly phase: StagePhase;
  readonly reason: string;
  readonly database: string;
  readonly filesDir: string;
  readonly paused: boolean;
  readonly readyAt: string | null;
  readonly createdAt: string;
}

export interface TenantView {
  readonly slug: string;
  readonly displayName: string;
  readonly region: string;
  readonly geography: string;
  readonly tier: string;
  readonly contacts: unknown;
  readonly desired: 'present' | 'absent';
  /** The least advanced phase of its stages: ready only when every stage is. */
  readonly phase: StagePhase;
  readonly createdAt: string;
  readonly stages: readonly StageView[];
}

export interface StageCredentials {
  readonly tenant: string;
  readonly stage: string;
  readonly database: string;
  readonly user: string;
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
}

export interface TenantServiceOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly regions: readonly Region[];
  readonly defaultRegion: string;
  readonly defaultStages: readonly string[];
  readonly instancePrefix: string;
  readonly filesRoot: string;
  readonly drivers: DatabaseDrivers;
  /** Checks a new tenant against other promises (backups stay in its geography); throws to refuse it. */
  readonly checkNewTenant?: (tenant: { readonly slug: string; readonly region: string }) => void;
}

export function stagePasswordSecret(tenant: string, stage: string): string {
  return `stage/${tenant}/${stage}/database-password`;
}

/**
 * Tenants and their stages. Every change writes desired state, the job that
 * carries it out and its audit event in one transaction.
 */
export class TenantService {
  readonly #o: TenantServiceOptions;
  #identityKeys: (() => Promise<string>) | undefined;

  constructor(options: TenantServiceOptions) {
    this.#o = options;
  }

  async create(input: CreateTenantInput, actor: Principal): Promise<TenantView> {
    const region = this.#region(input.region ?? this.#o.defaultRegion);
    this.#o.checkNewTenant?.({ slug: input.slug, region: region.name });
    if (!driverFor(this.#o.drivers, input.tier)) {
      throw new InputError(
        `field "tier": ${showValue(input.tier)} is not available on this installation; use one of ${availableTiers(this.#o.drivers).join(', ')}`,
        { field: 'tier' },
      );
    }
    const stages = input.stages ?? this.#o.defaultStages;
    const duplicate = stages.find((s, i) => stages.indexOf(s) !== i);
    if (duplicate) {
      throw new InputError(
        `field "stages": stage ${showValue(duplicate)} is listed twice; list each stage once`,
        { field: 'stages' },
      );
    }
    await this.#o.db.transaction().execute(async (tx) => {
      const existing = await tx
        .selectFrom('tenants')
        .select(['desired'])
        .where('slug', '=', input.slug)
        .executeTakeFirst();
      if (existing) throw this.#exists(input.slug, existing.desired);
      const tenant = await tx
        .insertInto('tenants')
        .values({
          slug: input.slug,
          display_name: input.displayName ?? input.slug,
          region: region.name,
          tier: input.tier,
          contacts: JSON.stringify(input.contacts),
        })
        .onConflict((oc) => oc.column('slug').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!tenant) throw this.#exists(input.slug, 'present');
      for (const stage of stages) await this.#insertStage(tx, tenant.id, input.slug, stage);
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'tenant.create',
        target: `tenant/${input.slug}`,
        tenant: input.slug,
        details: { region: region.name, tier: input.tier, stages, contacts: input.contacts.length },
      });
    });
    return this.show(input.slug);
  }

  /** Every tenant, by slug. */
  async list(): Promise<TenantView[]> {
    const tenants = await this.#o.db.selectFrom('tenants').selectAll().orderBy('slug').execute();
    const stages = await this.#o.db.selectFrom('stages').selectAll().orderBy('id').execute();
    return this.#views(tenants, stages);
  }

  /** One page of tenants, filtered and sorted in SQL (keyset, src/store/keyset.ts). */
  async listPage(filter: TenantFilter, page: PageRequest<TenantSort>): Promise<Page<TenantView>> {
    const { tenants, stages } = await tenantPage(this.#o.db, filter, page);
    return { ...tenants, items: this.#views(tenants.items, stages) };
  }

  #views(
    tenants: readonly Selectable<TenantsTable>[],
    stages: readonly Selectable<StagesTable>[],
  ): TenantView[] {
    const byTenant = new Map<string, (typeof stages)[number][]>();
    for (const stage of stages) {
      const list = byTenant.get(stage.tenant_id) ?? [];
      list.push(stage);
      byTenant.set(stage.tenant_id, list);
    }
    return tenants.map((t) => this.#view(t, byTenant.get(t.id) ?? []));
  }

  async show(slug: string): Promise<TenantView> {
    const tenant = await this.#o.db
      .selectFrom('tenants')
      .selectAll()
      .where('slug', '=', slug)
      .executeTakeFirst();
    if (!tenant) throw this.#notFound(slug);
    const stages = await this.#o.db
      .selectFrom('stages')
      .selectAll()
      .where('tenant_id', '=', tenant.id)
      .orderBy('id')
      .execute();
    return this.#view(tenant, stages);
  }

  /**
   * A tenant, and one of its stages when `stage` is given: what incidents and
   * maintenance windows name. Errors name the field (tenant, stage) and the
   * stages there are.
   */
  async place(slug: string, stage: string | null): Promise<TenantView> {
    const view = await this.show(slug);
    if (stage !== null && !view.stages.some((s) => s.name === stage)) {
      throw new NotFoundError(
        `field "stage": tenant ${slug} has no stage ${showValue(stage)}; its stages are ${view.stages.map((s) => s.name).join(', ')}`,
        { field: 'stage' },
      );
    }
    return view;
  }

  /** Adds a contact or changes the one with its email address; audited. */
  setContact(slug: string, contact: Contact, actor: Principal): Promise<TenantView> {
    return this.#changeContacts(slug, actor, 'tenant.contact.set', contact.email, (all) =>
      withContact(all, contact),
    );
  }

  removeContact(slug: string, email: string, actor: Principal): Promise<TenantView> {
    return this.#changeContacts(slug, actor, 'tenant.contact.remove', email, (all) => {
      const left = withoutContact(all, email);
      if (left.length === all.length) {
        throw new NotFoundError(
          `field "email": tenant ${slug} has no contact ${showValue(email)}; its contacts are ${all.map((c) => c.email).join(', ') || '(none)'}`,
          { field: 'email' },
        );
      }
      return left;
    });
  }

  async #changeContacts(
    slug: string,
    actor: Principal,
    action: string,
    email: string,
    change: (all: Contact[]) => Contact[],
  ): Promise<TenantView> {
    await this.#o.db.transaction().execute(async (tx) => {
      const { id } = await this.#lockPresentTenant(tx, slug);
      const row = await tx
        .selectFrom('tenants')
        .select('contacts')
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      const contacts = change(storedContacts(row.contacts));
      if (contacts.length > 20) {
        throw new InputError(`field "email": tenant ${slug} has 20 contacts, the most it may have`, {
          field: 'email',
        });
      }
      await tx
        .updateTable('tenants')
        .set({ contacts: JSON.stringify(contacts), updated_at: this.#o.clock.now() })
        .where('id', '=', id)
        .execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action,
        target: `tenant/${slug}`,
        tenant: slug,
        details: { email, contacts: contacts.length },
      });
    });
    return this.show(slug);
  }

  /** The tenant's contacts (NotFoundError for no such tenant). */
  async contacts(slug: string): Promise<Contact[]> {
    return storedContacts((await this.show(slug)).contacts);
  }

  async delete(slug: string, actor: Principal): Promise<TenantView> {
    await this.#o.db.transaction().execute(async (tx) => {
      const tenant = await tx
        .selectFrom('tenants')
        .select(['id', 'desired'])
        .where('slug', '=', slug)
        .forUpdate()
        .executeTakeFirst();
      if (!tenant) throw this.#notFound(slug);
      if (tenant.desired === 'absent') return;
      await tx
        .updateTable('tenants')
        .set({ desired: 'absent', updated_at: new Date() })
        .where('id', '=', tenant.id)
        .execute();
      const stages = await markStagesAbsent(tx, { tenantId: tenant.id }, 'deletion requested', new Date());
      for (const stage of stages) await enqueue(tx, stageJobKind, stage.id);
      if (stages.length === 0) await enqueue(tx, 'reconcile-tenant', tenant.id);
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'tenant.delete',
        target: `tenant/${slug}`,
        tenant: slug,
        details: { stages: stages.map((s) => s.name) },
      });
    });
    return this.show(slug).catch((error: unknown) => {
      if (error instanceof NotFoundError) throw new NotFoundError(`tenant ${slug} is already deleted`);
      throw error;
    });
  }

  async addStage(slug: string, input: AddStageInput, actor: Principal): Promise<TenantView> {
    await this.#o.db.transaction().execute(async (tx) => {
      const tenant = await this.#lockPresentTenant(tx, slug);
      const existing = await tx
        .selectFrom('stages')
        .select(['desired'])
        .where('tenant_id', '=', tenant.id)
        .where('name', '=', input.name)
        .executeTakeFirst();
      if (existing) {
        throw new ConflictError(
          existing.desired === 'absent'
            ? `stage ${input.name} of tenant ${slug} is being removed; add it again once it is gone`
            : `tenant ${slug} already has a stage ${input.name}`,
          { field: 'name' },
        );
      }
      await this.#insertStage(tx, tenant.id, slug, input.name);
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'stage.add',
        target: `tenant/${slug}/stage/${input.name}`,
        tenant: slug,
      });
    });
    return this.show(slug);
  }

  async removeStage(slug: string, stage: string, actor: Principal): Promise<TenantView> {
    await this.#o.db.transaction().execute(async (tx) => {
      const tenant = await this.#lockPresentTenant(tx, slug);
      const row = await tx
        .selectFrom('stages')
        .select(['id', 'desired'])
        .where('tenant_id', '=', tenant.id)
        .where('name', '=', stage)
        .forUpdate()
        .executeTakeFirst();
      if (!row) {
        const names = await tx
          .selectFrom('stages')
          .select('name')
          .where('tenant_id', '=', tenant.id)
          .orderBy('id')
          .execute();
        throw noSuchStage(
          slug,
          stage,
          names.map((s) => s.name),
        );
      }
      if (row.desired === 'absent') return;
      await markStagesAbsent(tx, { stageId: row.id }, 'removal requested', new Date());
      await enqueue(tx, stageJobKind, row.id);
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'stage.remove',
        target: `tenant/${slug}/stage/${stage}`,
        tenant: slug,
      });
    });
    return this.show(slug);
  }

  /** The stage's DATABASE_URL, for an operator. Reading it is audited. */
  async credentials(slug: string, stage: string, actor: Principal): Promise<StageCredentials> {
    const row = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.id', 'stages.desired'])
      .where('tenants.slug', '=', slug)
      .where('stages.name', '=', stage)
      .executeTakeFirst();
    if (!row) {
      const tenant = await this.show(slug);
      throw noSuchStage(
        slug,
        stage,
        tenant.stages.map((s) => s.name),
      );
    }
    if (row.desired === 'absent')
      throw new NotFoundError(`stage ${stage} of tenant ${slug} is being removed`);
    const credentials = await this.stageConnection(row.id);
    await this.#o.audit.recordAlone({
      actor: actorName(actor),
      address: actor.address,
      action: 'stage.credentials.read',
      target: `tenant/${slug}/stage/${stage}`,
      tenant: slug,
    });
    return credentials;
  }

  /** The id of a stage that exists and is not being removed; the error lists the tenant's stages. */
  async stageId(slug: string, stage: string): Promise<string> {
    const row = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.id', 'stages.desired', 'tenants.desired as tenant_desired'])
      .where('tenants.slug', '=', slug)
      .where('stages.name', '=', stage)
      .executeTakeFirst();
    if (!row || row.desired === 'absent' || row.tenant_desired === 'absent') {
      const tenant = await this.show(slug);
      throw noSuchStage(
        slug,
        stage,
        tenant.stages.filter((s) => s.desired === 'present').map((s) => s.name),
      );
    }
    return row.id;
  }

  /**
   * A stage's connection for Steward's own use (the runtime hands it to the
   * app's processes as DATABASE_URL). Not audited: no person reads it.
   */
  /**
   * The JSON key set apps verify X-Steward-Identity with (issue 13), which
   * the runtime hands to stage processes as STEWARD_IDENTITY_JWKS: a port
   * wired by the composition root, so the runtime never imports identity.
   */
  useIdentityKeys(source: () => Promise<string>): void {
    this.#identityKeys = source;
  }

  identityKeys(): Promise<string | undefined> {
    return this.#identityKeys ? this.#identityKeys() : Promise.resolve(undefined);
  }

  async stageConnection(stageId: string): Promise<StageCredentials> {
    const row = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select([
        'stages.database_name',
        'stages.password_secret',
        'stages.name',
        'tenants.slug',
        'tenants.tier',
      ])
      .where('stages.id', '=', stageId)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`stage ${stageId} does not exist`);
    const driver = driverFor(this.#o.drivers, row.tier);
    if (!driver)
      throw new ConflictError(`tier ${row.tier} of tenant ${row.slug} has no database driver here`);
    const password = await this.#o.secrets.get(row.password_secret);
    const { host, port } = await driver.endpoint(row.database_name);
    return {
      tenant: row.slug,
      stage: row.name,
      database: row.database_name,
      user: row.database_name,
      host,
      port,
      databaseUrl: `postgres://${row.database_name}:${encodeURIComponent(password)}@${host}:${port}/${row.database_name}`,
    };
  }

  async #insertStage(tx: Queryable, tenantId: string, slug: string, stage: string): Promise<void> {
    const database = newStageDatabaseName(this.#o.instancePrefix);
    const secretName = stagePasswordSecret(slug, stage);
    await this.#o.secrets.put(tx, secretName, randomSecret(32));
    const id = await insertStage(tx, {
      tenantId,
      name: stage,
      databaseName: database,
      passwordSecret: secretName,
      filesDir: join(this.#o.filesRoot, slug, stage),
    });
    await enqueue(tx, stageJobKind, id);
  }

  async #lockPresentTenant(tx: Queryable, slug: string): Promise<{ id: string }> {
    const tenant = await tx
      .selectFrom('tenants')
      .select(['id', 'desired'])
      .where('slug', '=', slug)
      .forUpdate()
      .executeTakeFirst();
    if (!tenant) throw this.#notFound(slug);
    if (tenant.desired === 'absent') throw new ConflictError(`tenant ${slug} is being deleted`);
    return tenant;
  }

  #region(name: string): Region {
    const region = this.#o.regions.find((r) => r.name === name);
    if (!region) {
      throw new InputError(
        `field "region": ${showValue(name)} is not a known region; use one of ${this.#o.regions.map((r) => r.name).join(', ')}`,
        { field: 'region' },
      );
    }
    return region;
  }

  #exists(slug: string, desired: string): ConflictError {
    return new ConflictError(
      desired === 'absent'
        ? `tenant ${slug} is being deleted; create it again once it is gone`
        : `tenant ${slug} already exists`,
      { field: 'slug' },
    );
  }

  #notFound(slug: string): NotFoundError {
    return new NotFoundError(
      `tenant ${showValue(slug)} does not exist; "steward tenant list" shows the tenants`,
      {
        field: 'tenant',
      },
    );
  }

  #view(
    tenant: {
      slug: string;
      display_name: string;
      region: string;
      tier: string;
      contacts: unknown;
      desired: string;
      created_at: Date;
    },
    stages: readonly {
      name: string;
      desired: string;
      phase: string;
      reason: string;
      database_name: string;
      files_dir: string;
      paused: boolean;
      ready_at: Date | null;
      created_at: Date;
    }[],
  ): TenantView {
    const views: StageView[] = stages.map((s) => ({
      name: s.name,
      desired: s.desired as 'present' | 'absent',
      phase: s.phase as StagePhase,
      reason: s.reason,
      database: s.database_name,
      filesDir: s.files_dir,
      paused: s.paused,
      readyAt: s.ready_at?.toISOString() ?? null,
      createdAt: s.created_at.toISOString(),
    }));
    return {
      slug: tenant.slug,
      displayName: tenant.display_name,
      region: tenant.region,
      geography: this.#o.regions.find((r) => r.name === tenant.region)?.geography ?? 'unknown',
      tier: tenant.tier,
      contacts: tenant.contacts,
      desired: tenant.desired as 'present' | 'absent',
      phase: summarisePhase(tenant.desired, views),
      createdAt: tenant.created_at.toISOString(),
      stages: views,
    };
  }
}

function noSuchStage(slug: string, stage: string, stages: readonly string[]): NotFoundError {
  return new NotFoundError(
    `tenant ${slug} has no stage ${showValue(stage)}; its stages are: ${stages.join(', ') || '(none)'}`,
    { field: 'stage' },
  );
}

export function summarisePhase(desired: string, stages: readonly StageView[]): StagePhase {
  if (desired === 'absent') return 'deleting';
  let least: StagePhase = 'ready';
  for (const stage of stages) {
    if (phaseOrder.indexOf(stage.phase) < phaseOrder.indexOf(least)) least = stage.phase;
  }
  return least;
}
