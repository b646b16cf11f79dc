import { X509Certificate } from 'node:crypto';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, InputError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ControlDb } from '../store/db.ts';
import { buildRouteTable, parseCidr, type RouteKind } from './routes.ts';
import { loadRouteSources } from './state.ts';
import { certificateNames, checkCertificate, isCertificateDomain } from './tls.ts';
import type { TenantService } from '../tenants/service.ts';
import { setStageAccess } from '../tenants/stage-store.ts';

/**
 * The gateway's desired state: who may reach a stage, whether it is in
 * maintenance, its custom domains, and operators' certificates. Every write
 * is audited; every gateway process picks it up through NOTIFY.
 */
export interface RouteView {
  readonly host: string;
  readonly kind: RouteKind;
  readonly tenant: string;
  readonly stage: string;
  readonly port: number;
  readonly allowFrom: readonly string[] | null;
  readonly maintenance: boolean;
}

export interface StageAccessView {
  readonly tenant: string;
  readonly stage: string;
  readonly allowFrom: readonly string[] | null;
  readonly maintenance: boolean;
  readonly domains: readonly string[];
}

export interface CertificateView {
  readonly domain: string;
  readonly names: readonly string[];
  readonly notAfter: string;
  readonly updatedAt: string;
}

export interface StageAccessSettings {
  /** CIDRs, or null for everyone. */
  readonly allowFrom?: readonly string[] | null | undefined;
  readonly maintenance?: boolean | undefined;
}

export interface GatewayServiceOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly baseDomain: string;
  readonly tenants: TenantService;
}

const keySecretName = (domain: string): string => `tls-key/${domain}`;

export class GatewayService {
  readonly #o: GatewayServiceOptions;

  constructor(options: GatewayServiceOptions) {
    this.#o = options;
  }

  get baseDomain(): string {
    return this.#o.baseDomain;
  }

  /** The routes every gateway serves, computed from desired state as the gateways compute them. */
  async listRoutes(): Promise<RouteView[]> {
    const table = buildRouteTable(await loadRouteSources(this.#o.db), this.#o.baseDomain);
    return table.routes.map((r) => ({
      host: r.host,
      kind: r.kind,
      tenant: r.tenant,
      stage: r.stage,
      port: r.publishedPort,
      allowFrom: r.allowFrom,
      maintenance: r.maintenance,
    }));
  }

  #stageId(tenant: string, stage: string): Promise<string> {
    return this.#o.tenants.stageId(tenant, stage);
  }

  async stageAccess(tenant: string, stage: string): Promise<StageAccessView> {
    const id = await this.#stageId(tenant, stage);
    const row = await this.#o.db
      .selectFrom('stages')
      .select(['allow_from', 'maintenance'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    const domains = await this.#o.db
      .selectFrom('stage_domains')
      .select('domain')
      .where('stage_id', '=', id)
      .orderBy('domain')
      .execute();
    return {
      tenant,
      stage,
      allowFrom: row.allow_from,
      maintenance: row.maintenance,
      domains: domains.map((d) => d.domain),
    };
  }

  /** The allow list (null: everyone) and maintenance flag of a stage. */
  async configureStage(
    tenant: string,
    stage: string,
    settings: StageAccessSettings,
    actor: Principal,
  ): Promise<StageAccessView> {
    const allowFrom = settings.allowFrom === undefined ? undefined : normaliseAllowList(settings.allowFrom);
    const id = await this.#stageId(tenant, stage);
    if (allowFrom !== undefined || settings.maintenance !== undefined) {
      await this.#o.db.transaction().execute(async (tx) => {
        await setStageAccess(tx, id, { allowFrom, maintenance: settings.maintenance });
        await this.#o.audit.record(tx, {
          actor: actorName(actor),
          address: actor.address,
          action: 'stage.gateway.configure',
          target: `tenant/${tenant}/stage/${stage}`,
          tenant,
          details: {
            ...(allowFrom !== undefined ? { allowFrom } : {}),
            ...(settings.maintenance !== undefined ? { maintenance: settings.maintenance } : {}),
          },
        });
      });
    }
    return this.stageAccess(tenant, stage);
  }

  /** A custom domain for a stage. Adding it again to the same stage changes nothing. */
  async addDomain(tenant: string, stage: string, domain: string, actor: Principal): Promise<StageAccessView> {
    const name = domain.toLowerCase().replace(/\.$/, '');
    if (!isCertificateDomain(name) || name.startsWith('*.')) {
      throw new InputError(`domain ${showValue(domain)} is not a DNS name such as app.example.com`, {
        field: 'domain',
      });
    }
    const base = this.#o.baseDomain;
    if (name === base || name.endsWith(`.${base}`)) {
      throw new InputError(
        `domain ${showValue(domain)} is under the base domain ${base}, whose names Steward gives out itself`,
        { field: 'domain' },
      );
    }
    const id = await this.#stageId(tenant, stage);
    await this.#o.db.transaction().execute(async (tx) => {
      const owner = await tx
        .selectFrom('stage_domains')
        .select('stage_id')
        .where('domain', '=', name)
        .forUpdate()
        .executeTakeFirst();
      if (owner && owner.stage_id !== id) {
        throw new ConflictError(`domain ${name} already belongs to another stage`, { field: 'domain' });
      }
      if (owner) return;
      await tx
        .insertInto('stage_domains')
        .values({ domain: name, stage_id: id })
        .onConflict((oc) => oc.column('domain').doNothing())
        .execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'stage.domain.add',
        target: `tenant/${tenant}/stage/${stage}`,
        tenant,
        details: { domain: name },
      });
    });
    return this.stageAccess(tenant, stage);
  }

  async removeDomain(
    tenant: string,
    stage: string,
    domain: string,
    actor: Principal,
  ): Promise<StageAccessView> {
    const name = domain.toLowerCase().replace(/\.$/, '');
    const id = await this.#stageId(tenant, stage);
    await this.#o.db.transaction().execute(async (tx) => {
      const removed = await tx
        .deleteFrom('stage_domains')
        .where('domain', '=', name)
        .where('stage_id', '=', id)
        .executeTakeFirst();
      if (removed.numDeletedRows === 0n) return;
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'stage.domain.remove',
        target: `tenant/${tenant}/stage/${stage}`,
        tenant,
        details: { domain: name },
      });
    });
    return this.stageAccess(tenant, stage);
  }

  /** Installs (or replaces) an operator's certificate and key for a domain or wildcard. */
  async setCertificate(
    domain: string,
    certPem: string,
    keyPem: string,
    actor: Principal,
  ): Promise<CertificateView> {
    const checked = checkCertificate(domain, certPem, keyPem, this.#o.clock.now());
    const keySecret = keySecretName(checked.domain);
    await this.#o.db.transaction().execute(async (tx) => {
      await this.#o.secrets.put(tx, keySecret, keyPem);
      await tx
        .insertInto('tls_certificates')
        .values({
          domain: checked.domain,
          cert_pem: certPem,
          key_secret: keySecret,
          not_after: checked.notAfter,
          updated_at: new Date(),
        })
        .onConflict((oc) =>
          oc.column('domain').doUpdateSet({
            cert_pem: certPem,
            key_secret: keySecret,
            not_after: checked.notAfter,
            updated_at: new Date(),
          }),
        )
        .execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'certificate.set',
        target: `certificate/${checked.domain}`,
        details: { names: checked.names, notAfter: checked.notAfter.toISOString() },
      });
    });
    const view = (await this.listCertificates()).find((c) => c.domain === checked.domain);
    if (!view) throw new NotFoundError(`certificate ${checked.domain} vanished while it was installed`);
    return view;
  }

  async listCertificates(): Promise<CertificateView[]> {
    const rows = await this.#o.db
      .selectFrom('tls_certificates')
      .select(['domain', 'cert_pem', 'not_after', 'updated_at'])
      .orderBy('domain')
      .execute();
    return rows.map((r) => ({
      domain: r.domain,
      names: namesOf(r.cert_pem),
      notAfter: r.not_after.toISOString(),
      updatedAt: r.updated_at.toISOString(),
    }));
  }

  async removeCertificate(domain: string, actor: Principal): Promise<void> {
    const name = domain.toLowerCase();
    await this.#o.db.transaction().execute(async (tx) => {
      const removed = await tx.deleteFrom('tls_certificates').where('domain', '=', name).executeTakeFirst();
      if (removed.numDeletedRows === 0n)
        throw new NotFoundError(`no certificate is installed for ${showValue(name)}`);
      await this.#o.secrets.remove(tx, keySecretName(name));
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'certificate.remove',
        target: `certificate/${name}`,
      });
    });
  }
}

function namesOf(certPem: string): string[] {
  try {
    return certificateNames(new X509Certificate(certPem));
  } catch {
    return [];
  }
}

/** An allow list as stored: validated CIDRs, or null for everyone. An empty list is refused: it would lock everyone out. */
export function normaliseAllowList(value: readonly string[] | null): string[] | null {
  if (value === null) return null;
  if (value.length === 0) {
    throw new InputError(
      'the allow list is empty: give at least one CIDR, or null (any) to let everyone in',
      {
        field: 'allowFrom',
      },
    );
  }
  if (value.length > 256)
    throw new InputError('the allow list has more than 256 entries', { field: 'allowFrom' });
  return value.map((entry) => {
    const parsed = parseCidr(entry);
    if (!parsed) {
      throw new InputError(
        `allowFrom: ${showValue(entry)} is not a CIDR such as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32`,
        { field: 'allowFrom' },
      );
    }
    return `${parsed.address}/${parsed.prefix}`;
  });
}
