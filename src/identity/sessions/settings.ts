import { sql } from 'kysely';
import { z } from 'zod';
import type { AuditService } from '../../audit/service.ts';
import { InputError, NotFoundError, showValue } from '../../core/errors.ts';
import { actorName, type Principal } from '../../core/policy.ts';
import { routesChannel } from '../../gateway/state.ts';
import type { ControlDb } from '../../store/db.ts';
import { signInModes, type SignInMode } from './claims.ts';

/**
 * Identity settings (table identity_settings): per tenant, with per-stage
 * overrides. A stage's value wins over the tenant's, the tenant's over the
 * defaults; the default signs nobody in (`off`), so a stage nobody set
 * behaves as before. A change reaches HAProxy's sign-in map at once (NOTIFY
 * on the routes channel).
 */
export interface ResolvedIdentitySettings {
  readonly localUsers: boolean;
  readonly signIn: SignInMode;
  readonly idleMinutes: number;
  readonly absoluteHours: number;
}

export const identityDefaults: ResolvedIdentitySettings = {
  localUsers: false,
  signIn: 'off',
  idleMinutes: 60,
  absoluteHours: 12,
};

/** What a set changes; a field left out keeps its value, null clears a stage's override. */
export const identitySettingsPatch = z
  .object({
    localUsers: z.boolean().nullable().optional(),
    signIn: z.enum(signInModes).nullable().optional(),
    idleMinutes: z.number().int().min(1).max(43_200).nullable().optional(),
    absoluteHours: z.number().int().min(1).max(8760).nullable().optional(),
  })
  .strict();
export type IdentitySettingsPatch = z.output<typeof identitySettingsPatch>;

interface Layer {
  readonly localUsers: boolean | null;
  readonly signIn: SignInMode | null;
  readonly idleMinutes: number | null;
  readonly absoluteHours: number | null;
}

export interface IdentitySettingsView {
  readonly tenant: string;
  /** The tenant's own values (null: the default). */
  readonly tenantSettings: Layer;
  /** Each stage: its overrides and what applies. */
  readonly stages: readonly {
    readonly stage: string;
    readonly overrides: Layer;
    readonly effective: ResolvedIdentitySettings;
  }[];
}

/** The settings that apply: the stage's layer over the tenant's over the defaults (pure). */
export function resolveSettings(
  tenantLayer: Layer | undefined,
  stageLayer: Layer | undefined,
): ResolvedIdentitySettings {
  const pick = <K extends keyof Layer>(key: K): NonNullable<Layer[K]> | undefined =>
    stageLayer?.[key] ?? tenantLayer?.[key] ?? undefined;
  return {
    localUsers: pick('localUsers') ?? identityDefaults.localUsers,
    signIn: pick('signIn') ?? identityDefaults.signIn,
    idleMinutes: pick('idleMinutes') ?? identityDefaults.idleMinutes,
    absoluteHours: pick('absoluteHours') ?? identityDefaults.absoluteHours,
  };
}

const emptyLayer: Layer = { localUsers: null, signIn: null, idleMinutes: null, absoluteHours: null };

export class IdentitySettings {
  readonly #db: ControlDb;
  readonly #audit: AuditService;

  constructor(db: ControlDb, audit: AuditService) {
    this.#db = db;
    this.#audit = audit;
  }

  async #layers(tenantId: string): Promise<Map<string, Layer>> {
    const rows = await this.#db
      .selectFrom('identity_settings')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .execute();
    return new Map(
      rows.map((row) => [
        row.stage ?? '',
        {
          localUsers: row.local_users,
          signIn: row.sign_in as SignInMode | null,
          idleMinutes: row.idle_minutes,
          absoluteHours: row.absolute_hours,
        },
      ]),
    );
  }

  /** What applies to a stage of a tenant (by the tenant's id). */
  async resolve(tenantId: string, stage: string): Promise<ResolvedIdentitySettings> {
    const layers = await this.#layers(tenantId);
    return resolveSettings(layers.get(''), layers.get(stage));
  }

  async show(tenant: string): Promise<IdentitySettingsView> {
    const { id, stages } = await this.#tenant(tenant);
    const layers = await this.#layers(id);
    return {
      tenant,
      tenantSettings: layers.get('') ?? emptyLayer,
      stages: stages.map((stage) => ({
        stage,
        overrides: layers.get(stage) ?? emptyLayer,
        effective: resolveSettings(layers.get(''), layers.get(stage)),
      })),
    };
  }

  /** Sets the tenant's settings (no stage) or a stage's overrides; audited; HAProxy follows at once. */
  async set(
    tenant: string,
    stage: string | undefined,
    patch: IdentitySettingsPatch,
    actor: Principal,
  ): Promise<IdentitySettingsView> {
    const { id, stages } = await this.#tenant(tenant);
    if (stage !== undefined && !stages.includes(stage)) {
      throw new InputError(
        `stage ${showValue(stage)} is not a stage of tenant ${tenant}; accepted: ${stages.join(', ')}`,
        { field: 'stage' },
      );
    }
    if (stage === undefined) {
      for (const key of Object.keys(patch) as (keyof IdentitySettingsPatch)[]) {
        if (patch[key] === null) {
          throw new InputError(
            `${key} null is not accepted for a tenant: only a stage's override can be cleared`,
            {
              field: key,
            },
          );
        }
      }
    }
    await this.#db.transaction().execute(async (tx) => {
      const values = {
        ...(patch.localUsers !== undefined ? { local_users: patch.localUsers } : {}),
        ...(patch.signIn !== undefined ? { sign_in: patch.signIn } : {}),
        ...(patch.idleMinutes !== undefined ? { idle_minutes: patch.idleMinutes } : {}),
        ...(patch.absoluteHours !== undefined ? { absolute_hours: patch.absoluteHours } : {}),
      };
      const existing = await tx
        .selectFrom('identity_settings')
        .select('id')
        .where('tenant_id', '=', id)
        .where(sql<string>`coalesce(stage, '')`, '=', stage ?? '')
        .forUpdate()
        .executeTakeFirst();
      if (existing) {
        await tx
          .updateTable('identity_settings')
          .set({ ...values, updated_at: new Date() })
          .where('id', '=', existing.id)
          .execute();
      } else {
        await tx
          .insertInto('identity_settings')
          .values({ tenant_id: id, stage: stage ?? null, ...values })
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      await this.#audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'identity.settings.set',
        target: stage ? `tenant/${tenant}/stage/${stage}/identity` : `tenant/${tenant}/identity`,
        tenant,
        details: patch,
      });
      await sql`select pg_notify(${routesChannel}, 'identity')`.execute(tx);
    });
    return this.show(tenant);
  }

  /** Every stage (of tenants and stages desired present) whose sign-in is not off: HAProxy's sign-in map. */
  async edgeModes(): Promise<{ tenant: string; stage: string; mode: 'required' | 'optional' }[]> {
    const rows = await this.#db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .leftJoin('identity_settings as t', (join) =>
        join.onRef('t.tenant_id', '=', 'tenants.id').on('t.stage', 'is', null),
      )
      .leftJoin('identity_settings as s', (join) =>
        join.onRef('s.tenant_id', '=', 'tenants.id').onRef('s.stage', '=', 'stages.name'),
      )
      .select([
        'tenants.slug as tenant',
        'stages.name as stage',
        sql<string | null>`coalesce(s.sign_in, t.sign_in)`.as('mode'),
      ])
      .where('tenants.desired', '=', 'present')
      .where('stages.desired', '=', 'present')
      .execute();
    return rows
      .filter((row) => row.mode === 'required' || row.mode === 'optional')
      .map((row) => ({ tenant: row.tenant, stage: row.stage, mode: row.mode as 'required' | 'optional' }));
  }

  async #tenant(slug: string): Promise<{ id: string; stages: string[] }> {
    const tenant = await this.#db
      .selectFrom('tenants')
      .select('id')
      .where('slug', '=', slug)
      .where('desired', '=', 'present')
      .executeTakeFirst();
    if (!tenant) throw new NotFoundError(`tenant ${showValue(slug)} does not exist`);
    const stages = await this.#db
      .selectFrom('stages')
      .select('name')
      .where('tenant_id', '=', tenant.id)
      .where('desired', '=', 'present')
      .orderBy('name')
      .execute();
    return { id: String(tenant.id), stages: stages.map((row) => row.name) };
  }
}
