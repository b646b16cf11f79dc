import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import { readForm } from '../gateway/form.ts';
import type { Clock } from '../core/clock.ts';
import { InputError } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { ControlDb } from '../store/db.ts';
import type { TenantService } from '../tenants/service.ts';
import { listMaintenanceWindows } from '../maintenance/store.ts';
import { listIncidents, listPublicUpdates } from '../incidents/store.ts';
import { SlaEvidence, type StateInterval } from '../sla/index.ts';
import {
  aggregate,
  barsStart,
  currentState,
  dayBars,
  dayMs,
  orderStages,
  type Component,
  type PublicIncident,
  type PublicMaintenance,
  type StatusPageModel,
} from './model.ts';
import { messagePage, notFoundPage, renderStatusPage } from './render.ts';
import { emailPattern, linkTokenPattern, Subscriptions } from './subscriptions.ts';
import type { NotificationService } from '../notifications/index.ts';
import { findStatusLink, listStatusLinks, saveStatusLink, type StatusLink } from './store.ts';

/**
 * The public status page: the vendor's at https://status.<baseDomain>/ and
 * one per tenant behind https://status.<baseDomain>/t/<token>. A plain HTTP
 * handler the gateway routes the status host to. Pages are rendered from the
 * control database at most every cacheSeconds (or at once after a change made
 * through this service); every reader in between gets the same bytes.
 */
export interface StatusSettings {
  /** The host label: the page is served at <host>.<baseDomain>. */
  readonly host: string;
  readonly title: string;
  readonly cacheSeconds: number;
}

export interface StatusServiceOptions {
  readonly db: ControlDb;
  readonly clock: Clock;
  readonly tenants: TenantService;
  readonly audit: AuditService;
  readonly logger: Logger;
  readonly settings: StatusSettings;
  readonly baseDomain: string;
  /** The gateway's public port, for the links this service prints. */
  readonly port: number;
  readonly notifications: NotificationService;
}

interface Rendered {
  readonly body: Buffer;
  readonly etag: string;
  readonly at: number;
}

const tokenPattern = /^\/t\/([A-Za-z0-9_-]{43})\/?$/;
const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();
const stageNames: Readonly<Record<string, string>> = { prod: 'Production', test: 'Test', dev: 'Development' };
const componentName = (stage: string): string => stageNames[stage] ?? stage;
/** A status page's forms (subscribe, confirm) are small: 2 KiB at most. */
const maxForm = 2048;

export class StatusService {
  readonly #o: StatusServiceOptions;
  readonly #evidence: SlaEvidence;
  readonly #pages = new Map<string, Rendered>();
  readonly #rendering = new Map<string, Promise<Rendered>>();
  #links: { at: number; byHash: Map<string, StatusLink> } | undefined;
  #loadingLinks: Promise<Map<string, StatusLink>> | undefined;
  readonly subscriptions: Subscriptions;
  #timer: NodeJS.Timeout | undefined;
  #passing: Promise<unknown> | undefined;

  constructor(options: StatusServiceOptions) {
    this.#o = options;
    this.#evidence = new SlaEvidence(options.db);
    this.subscriptions = new Subscriptions({
      db: options.db,
      clock: options.clock,
      logger: options.logger,
      notifications: options.notifications,
      title: async (scope) => (await this.model(scope)).title,
    });
  }

  /** Subscribers hear of new public updates and announced maintenance: a pass every `everyMs`. */
  start(everyMs = 30_000): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.#passing) return;
      this.#passing = this.subscriptions
        .notifyPass()
        .catch((error: unknown) =>
          this.#o.logger.warn(
            { err: (error as Error).message },
            'status subscribers not told; next pass retries',
          ),
        )
        .finally(() => (this.#passing = undefined));
    }, everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#passing;
  }

  /** status.<baseDomain> */
  get host(): string {
    return `${this.#o.settings.host}.${this.#o.baseDomain}`;
  }

  /** The handler for a host the gateway serves itself, if this is the status host. */
  site(host: string): ((req: IncomingMessage, res: ServerResponse) => void) | undefined {
    return host === this.host ? (req, res) => void this.handle(req, res) : undefined;
  }

  /**
   * A tenant's private link: made on first use, a new token on `rotate` (the
   * old one stops working at once here, within cacheSeconds on other
   * gateways). The token is only ever returned here.
   */
  async link(
    actor: Principal,
    tenant: string,
    options: { rotate?: boolean; stages?: readonly string[] } = {},
  ): Promise<{
    tenant: string;
    url: string | null;
    path: string | null;
    stages: readonly string[];
    rotatedAt: string;
  }> {
    const view = await this.#o.tenants.show(tenant);
    if (options.stages) {
      const known = view.stages.map((s) => s.name);
      for (const stage of options.stages) {
        if (!known.includes(stage)) {
          throw new InputError(
            `stages: ${JSON.stringify(stage)} is not a stage of tenant ${tenant}; accepted: ${known.join(', ')}`,
          );
        }
      }
      if (options.stages.length === 0) throw new InputError('stages: give at least one stage, e.g. prod');
    }
    const existing = await findStatusLink(this.#o.db, tenant);
    if (existing && !options.rotate && !options.stages) {
      return { tenant, url: null, path: null, stages: existing.publicStages, rotatedAt: existing.rotatedAt };
    }
    const fresh = !existing || options.rotate === true;
    const token = fresh ? randomBytes(32).toString('base64url') : undefined;
    const at = this.#o.clock.now();
    await this.#o.db.transaction().execute(async (tx) => {
      await saveStatusLink(tx, {
        tenant,
        tokenSha256: token ? sha256(token) : (existing?.tokenSha256 ?? Buffer.alloc(32)),
        publicStages: options.stages ? orderStages(options.stages) : undefined,
        at: token ? at : new Date(existing?.rotatedAt ?? at),
      });
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: existing ? (token ? 'status.link.rotate' : 'status.link.stages') : 'status.link.create',
        target: `tenant/${tenant}/status`,
        tenant,
        details: {
          stages: options.stages ? orderStages(options.stages) : (existing?.publicStages ?? ['prod']),
        },
      });
    });
    this.invalidate();
    const saved = await findStatusLink(this.#o.db, tenant);
    const path = token ? `/t/${token}` : null;
    const port = this.#o.port === 443 ? '' : `:${this.#o.port}`;
    return {
      tenant,
      url: path ? `https://${this.host}${port}${path}` : null,
      path,
      stages: saved?.publicStages ?? ['prod'],
      rotatedAt: saved?.rotatedAt ?? at.toISOString(),
    };
  }

  /** Forget cached pages and links: the next reader renders anew. */
  invalidate(): void {
    this.#pages.clear();
    this.#links = undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = req.method === 'POST' ? readForm(req, maxForm) : undefined;
    try {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const link = /^\/(confirm|unsubscribe)\/([^/]*)$/.exec(path);
      if (link) {
        await this.#subscriptionLink(req, res, link[1] as 'confirm' | 'unsubscribe', link[2] ?? '');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') {
        res.writeHead(405, { allow: 'GET, HEAD, POST', 'content-type': 'text/plain; charset=utf-8' });
        res.end('405 Method Not Allowed\n');
        return;
      }
      let scope: string | undefined;
      if (path === '/') scope = '';
      else {
        const token = tokenPattern.exec(path)?.[1];
        if (token) {
          const link = (await this.#linksByHash()).get(sha256(token).toString('hex'));
          // The map is keyed by the digest; comparing again in constant time costs nothing.
          if (link && timingSafeEqual(link.tokenSha256, sha256(token))) scope = link.tenant;
        }
      }
      if (scope === undefined) {
        send(req, res, 404, Buffer.from(notFoundPage), undefined);
        return;
      }
      if (req.method === 'POST') {
        await this.#subscribe(req, res, scope, path, await form);
        return;
      }
      const page = await this.#page(scope);
      if (req.headers['if-none-match'] === page.etag) {
        res.writeHead(304, { etag: page.etag, 'cache-control': this.#cacheControl(scope) });
        res.end();
        return;
      }
      send(req, res, 200, page.body, page.etag, this.#cacheControl(scope));
    } catch (error) {
      this.#o.logger.error({ err: (error as Error).message }, 'status page not rendered');
      if (!res.headersSent) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
      }
      res.end('503 Service Unavailable\n');
    }
  }

  /** The page's form: a confirmation email, the same answer whether or not the address was known. */
  async #subscribe(
    req: IncomingMessage,
    res: ServerResponse,
    scope: string,
    path: string,
    body: URLSearchParams | undefined,
  ): Promise<void> {
    if (scope === '') {
      send(req, res, 404, Buffer.from(notFoundPage), undefined);
      return;
    }
    const email = body?.get('email')?.trim() ?? '';
    if (body === undefined || !emailPattern.test(email) || email.length > 254) {
      const shown = JSON.stringify(email.slice(0, 80));
      const page = messagePage(
        'Not subscribed',
        `Field "email": ${shown} is not accepted; give one email address, like name@example.com.`,
      );
      send(req, res, 400, Buffer.from(page), undefined);
      return;
    }
    const outcome = await this.subscriptions.subscribe(
      scope,
      email,
      `https://${req.headers.host ?? this.host}${path}`,
    );
    if (outcome === 'limited') {
      res.setHeader('retry-after', '86400');
      send(
        req,
        res,
        429,
        Buffer.from(
          messagePage(
            'Too many requests',
            'This address was asked for too often today. Please try again tomorrow.',
          ),
        ),
        undefined,
      );
      return;
    }
    send(
      req,
      res,
      200,
      Buffer.from(
        messagePage(
          'Check your inbox',
          'If the address can be subscribed, an email with a confirmation link is on its way. Nothing is sent before you confirm.',
        ),
      ),
      undefined,
    );
  }

  /** GET shows a button; only its POST acts (mail scanners follow links, they do not press buttons). */
  async #subscriptionLink(
    req: IncomingMessage,
    res: ServerResponse,
    kind: 'confirm' | 'unsubscribe',
    token: string,
  ): Promise<void> {
    const subs = this.subscriptions;
    const valid = linkTokenPattern.test(token);
    if (req.method === 'POST') {
      const done = valid && (kind === 'confirm' ? await subs.confirm(token) : await subs.unsubscribe(token));
      if (!done) return send(req, res, 404, Buffer.from(notFoundPage), undefined);
      const page =
        kind === 'confirm'
          ? messagePage(
              'Subscribed',
              'You will be told by email of incidents and planned maintenance. Every email has a link to unsubscribe.',
            )
          : messagePage('Unsubscribed', 'You will get no more emails from this status page.');
      return send(req, res, 200, Buffer.from(page), undefined);
    }
    const current =
      valid && (kind === 'confirm' ? await subs.confirmable(token) : await subs.unsubscribable(token));
    if (!current) return send(req, res, 404, Buffer.from(notFoundPage), undefined);
    const page =
      kind === 'confirm'
        ? messagePage(
            'Confirm your subscription',
            'Press the button to get emails about incidents and planned maintenance.',
            'Confirm',
          )
        : messagePage(
            'Unsubscribe',
            'Press the button to get no more emails from this status page.',
            'Unsubscribe',
          );
    send(req, res, 200, Buffer.from(page), undefined);
  }

  #cacheControl(scope: string): string {
    // A tenant's page is behind a secret link: shared caches must not keep it.
    return `${scope === '' ? 'public' : 'private'}, max-age=${this.#o.settings.cacheSeconds}`;
  }

  async #linksByHash(): Promise<Map<string, StatusLink>> {
    const now = Date.now();
    if (this.#links && now - this.#links.at < this.#o.settings.cacheSeconds * 1000) return this.#links.byHash;
    this.#loadingLinks ??= listStatusLinks(this.#o.db)
      .then((links) => {
        const byHash = new Map(links.map((l) => [l.tokenSha256.toString('hex'), l]));
        this.#links = { at: now, byHash };
        return byHash;
      })
      .finally(() => (this.#loadingLinks = undefined));
    return this.#loadingLinks;
  }

  /** The rendered page of a scope ('' the vendor's, else a tenant's); one rendering at a time per scope. */
  async #page(scope: string): Promise<Rendered> {
    const cached = this.#pages.get(scope);
    if (cached && Date.now() - cached.at < this.#o.settings.cacheSeconds * 1000) return cached;
    let pending = this.#rendering.get(scope);
    if (!pending) {
      pending = this.model(scope)
        .then((model) => {
          const body = Buffer.from(renderStatusPage(model));
          const rendered = {
            body,
            etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
            at: Date.now(),
          };
          this.#pages.set(scope, rendered);
          return rendered;
        })
        .finally(() => this.#rendering.delete(scope));
      this.#rendering.set(scope, pending);
    }
    if (!cached) return pending;
    // A stale page is better than a wait: readers get it while the new one renders.
    pending.catch((error: unknown) =>
      this.#o.logger.warn(
        { err: (error as Error).message },
        'status page not re-rendered; serving the last one',
      ),
    );
    return cached;
  }

  /** What a page shows ('' the vendor's, else the tenant's), as plain data. */
  async model(scope: string): Promise<StatusPageModel> {
    const now = this.#o.clock.now().getTime();
    return scope === '' ? this.#vendorModel(now) : this.#tenantModel(scope, now);
  }

  /** Built-in gateway checks of the stages (removed ones too: they are history) with their intervals. */
  async #gatewayStates(tenant: string | undefined, stages: readonly string[], now: number) {
    const checks = await this.#o.db
      .selectFrom('checks')
      .select(['id', 'tenant_slug', 'stage_name'])
      .where('builtin', '=', 'gateway')
      .where('stage_name', 'in', stages.length > 0 ? [...stages] : [''])
      .$if(tenant !== undefined, (q) => q.where('tenant_slug', '=', tenant ?? ''))
      .execute();
    const from = barsStart(now);
    const states = await this.#evidence.states(
      checks.map((c) => String(c.id)),
      from,
      now,
    );
    const byCheck = new Map<string, StateInterval[]>();
    for (const s of states) {
      const list = byCheck.get(s.checkId) ?? [];
      // Still open: its end is now, and it is still the current state.
      list.push({
        id: s.id,
        checkId: s.checkId,
        state: s.state,
        start: s.start,
        end: (s.end ?? now) >= now ? null : s.end,
      });
      byCheck.set(s.checkId, list);
    }
    return checks.map((c) => ({
      tenant: c.tenant_slug ?? '',
      stage: c.stage_name ?? '',
      states: byCheck.get(String(c.id)) ?? [],
    }));
  }

  async #vendorModel(now: number): Promise<StatusPageModel> {
    const checks = await this.#gatewayStates(undefined, ['prod'], now);
    const byTenant = new Map<string, StateInterval[]>();
    for (const c of checks) byTenant.set(c.tenant, [...(byTenant.get(c.tenant) ?? []), ...c.states]);
    const parts: Component[] = [...byTenant.values()].map((states) => ({
      name: '',
      state: currentState(states, now, false),
      ...dayBars(states, now),
    }));
    const application =
      parts.length > 0
        ? aggregate('Application', parts)
        : { ...aggregate('Application', []), ...dayBars([], now) };
    return {
      title: this.#o.settings.title,
      generatedAt: new Date(now).toISOString(),
      components: [application],
      // Incidents and maintenance belong to one tenant: they are on that tenant's page only.
      current: [],
      maintenance: [],
      history: [],
    };
  }

  async #tenantModel(tenant: string, now: number): Promise<StatusPageModel> {
    const link = await findStatusLink(this.#o.db, tenant);
    const stages = orderStages(link?.publicStages ?? ['prod']);
    const nowDate = new Date(now);
    const [row, checks, windows, updates, incidents] = await Promise.all([
      this.#o.db.selectFrom('tenants').select('display_name').where('slug', '=', tenant).executeTakeFirst(),
      this.#gatewayStates(tenant, stages, now),
      listMaintenanceWindows(this.#o.db, { now: nowDate, tenant }),
      listPublicUpdates(this.#o.db, { since: new Date(now - 90 * dayMs), tenant, limit: 500 }),
      listIncidents(this.#o.db, { tenant, limit: 200 }),
    ]);
    const shown = (stage: string | null): boolean => stage === null || stages.includes(stage);
    const planned = windows
      .filter((w) => w.cancelledAt === null && w.endsAt > w.startsAt && shown(w.stage))
      .filter((w) => w.announcedAt !== null || w.startsAt <= nowDate.toISOString())
      .sort((a, b) => a.startsAt.localeCompare(b.startsAt));
    const inMaintenance = (stage: string): boolean =>
      planned.some(
        (w) =>
          (w.stage === null || w.stage === stage) &&
          new Date(w.startsAt).getTime() <= now &&
          now < new Date(w.endsAt).getTime(),
      );
    const components: Component[] = stages.map((stage) => {
      const states = checks.filter((c) => c.stage === stage).flatMap((c) => c.states);
      return {
        name: componentName(stage),
        state: currentState(states, now, inMaintenance(stage)),
        ...dayBars(states, now),
      };
    });
    const maintenance: PublicMaintenance[] = planned.map((w) => ({
      start: w.startsAt,
      end: w.endsAt,
      reason: w.reason,
      component: w.stage === null ? 'All components' : componentName(w.stage),
    }));
    const status = new Map(incidents.map((i) => [i.id, i.status]));
    const grouped = new Map<string, PublicIncident & { updates: PublicIncident['updates'][number][] }>();
    for (const u of updates) {
      if (!shown(u.stage)) continue;
      const incident = grouped.get(u.incidentId) ?? {
        id: u.incidentId,
        title: u.title,
        status: status.get(u.incidentId) ?? u.status,
        updates: [],
      };
      incident.updates.push({ at: u.at, status: u.status, note: u.note ?? '' });
      grouped.set(u.incidentId, incident);
    }
    const all = [...grouped.values()];
    return {
      title: `${row?.display_name ?? tenant} status`,
      generatedAt: nowDate.toISOString(),
      components,
      current: all.filter((i) => i.status !== 'resolved'),
      maintenance,
      history: all.filter((i) => i.status === 'resolved'),
      subscribe: true,
    };
  }
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: Buffer,
  etag: string | undefined,
  cacheControl = 'no-store',
): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(body.length),
    'cache-control': cacheControl,
    'content-security-policy':
      "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...(etag ? { etag } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
