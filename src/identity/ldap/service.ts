import type { Logger } from 'pino';
import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import { InputError, NotFoundError, showValue } from '../../core/errors.ts';
import { actorName, type Principal } from '../../core/policy.ts';
import { enqueue } from '../../jobs/queue.ts';
import type { JobHandler } from '../../jobs/runner.ts';
import type { SecretService } from '../../secrets/service.ts';
import type { ControlDb } from '../../store/db.ts';
import { LdapError, LdapReader, type DirectoryReader } from './client.ts';
import { applyPlan, readDirectory, type DirectoryPort } from './directory-port.ts';
import { readGroup, readUser, type LdapGroup, type LdapUser, type SkippedEntry } from './entries.ts';
import { countActions, emptyCounts, planSync } from './plan.ts';
import { resolveSettings, type LdapSettings, type SetDirectoryInput } from './settings.ts';
import { LdapStore, type RunOutcome, type SyncRunView, type SyncTrigger } from './store.ts';

/** One job per tenant (key: the tenant's id): scheduled and requested syncs coalesce into it. */
export const ldapSyncJobKind = 'ldap-sync';

export const bindPasswordSecret = (tenantId: string): string => `ldap/${tenantId}/bind-password`;

export interface LdapSyncOptions {
  readonly db: ControlDb;
  readonly directory: DirectoryPort;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly reader?: DirectoryReader;
}

/** A tenant's directory as the API shows it: never the password. */
export interface DirectorySettingsView extends Omit<LdapSettings, 'caPem'> {
  readonly caPem: string | null;
  readonly every: string | null;
  readonly hasBindPassword: true;
  readonly updatedBy: string;
  readonly updatedAt: string;
  /** When the schedule syncs next; null: on demand only. */
  readonly nextSyncAt: string | null;
}

export interface DirectoryView {
  readonly tenant: string;
  readonly directory: DirectorySettingsView | null;
  /** Newest first. */
  readonly runs: readonly SyncRunView[];
}

export interface SyncRequested {
  readonly tenant: string;
  readonly requestedAt: string;
}

/** "15m", "1h", "1d" for seconds that divide evenly; else seconds. */
export function formatEvery(seconds: number | null): string | null {
  if (seconds === null) return null;
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** How often a run writes its progress line, at most. */
const progressEveryMs = 300;

/**
 * Directory pull sync from LDAP / Active Directory: a tenant's settings, its
 * runs (each an ldap_sync_runs row and an audit event), and the job that
 * runs them on schedule and on request. A run reads the directory (LdapReader),
 * reads the tenant's Directory, plans (planSync) and applies; a run killed
 * halfway is closed as interrupted by the next, whose plan finishes the work.
 */
export class LdapSyncService {
  readonly #o: LdapSyncOptions;
  readonly #store: LdapStore;
  readonly #reader: DirectoryReader;

  constructor(options: LdapSyncOptions) {
    this.#o = options;
    this.#store = new LdapStore(options.db);
    this.#reader = options.reader ?? new LdapReader();
  }

  async #tenantId(slug: string): Promise<string> {
    const id = await this.#store.tenantId(slug);
    if (id === undefined) throw new NotFoundError(`tenant ${showValue(slug)} does not exist`);
    return id;
  }

  /** Sets (or replaces) the tenant's directory and queues a first sync. */
  async set(slug: string, input: SetDirectoryInput, actor: Principal): Promise<DirectoryView> {
    const tenantId = await this.#tenantId(slug);
    const settings = resolveSettings(input);
    const now = this.#o.clock.now();
    await this.#o.db.transaction().execute(async (tx) => {
      const existing = await this.#store.get(tenantId, tx);
      if (!existing && input.bindPassword === undefined) {
        throw new InputError(
          `field "bindPassword" is required when a directory is first set for tenant ${slug} (the CLI reads it with --bind-password-stdin)`,
          { field: 'bindPassword' },
        );
      }
      await this.#store.put(tx, tenantId, settings, actorName(actor));
      if (input.bindPassword !== undefined) {
        await this.#o.secrets.put(tx, bindPasswordSecret(tenantId), input.bindPassword);
      }
      await this.#store.requestSync(tx, tenantId, now, actorName(actor));
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: existing ? 'directory.update' : 'directory.set',
        target: `tenant/${slug}/directory`,
        tenant: slug,
        details: {
          url: settings.url,
          bindDn: settings.bindDn,
          baseDn: settings.baseDn,
          preset: settings.preset,
          groups: settings.groupBaseDn !== null,
          every: formatEvery(settings.everySeconds),
          bindPasswordChanged: input.bindPassword !== undefined,
        },
      });
      await enqueue(tx, ldapSyncJobKind, tenantId);
    });
    return this.show(slug);
  }

  async show(slug: string, limit = 10): Promise<DirectoryView> {
    const tenantId = await this.#tenantId(slug);
    const stored = await this.#store.get(tenantId);
    const runs = await this.#store.runs(tenantId, Math.max(1, Math.min(100, limit)));
    if (!stored) return { tenant: slug, directory: null, runs };
    const s = stored.settings;
    const last = runs[0] ? new Date(runs[0].startedAt) : undefined;
    const next =
      s.everySeconds === null
        ? null
        : new Date((last ?? this.#o.clock.now()).getTime() + s.everySeconds * 1000);
    return {
      tenant: slug,
      directory: {
        ...s,
        every: formatEvery(s.everySeconds),
        hasBindPassword: true,
        updatedBy: stored.updatedBy,
        updatedAt: stored.updatedAt.toISOString(),
        nextSyncAt: next?.toISOString() ?? null,
      },
      runs,
    };
  }

  async run(slug: string, runId: string): Promise<SyncRunView> {
    const tenantId = await this.#tenantId(slug);
    const run = /^\d{1,18}$/.test(runId) ? await this.#store.run(runId, tenantId) : undefined;
    if (!run) throw new NotFoundError(`tenant ${slug} has no directory sync run ${showValue(runId)}`);
    return run;
  }

  /** Removes the directory and its password; the users it made stay as they are. */
  async remove(
    slug: string,
    actor: Principal,
  ): Promise<{ readonly tenant: string; readonly removed: boolean }> {
    const tenantId = await this.#tenantId(slug);
    const removed = await this.#o.db.transaction().execute(async (tx) => {
      const gone = await this.#store.remove(tx, tenantId);
      if (!gone) return false;
      await this.#o.secrets.remove(tx, bindPasswordSecret(tenantId));
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'directory.remove',
        target: `tenant/${slug}/directory`,
        tenant: slug,
      });
      return true;
    });
    return { tenant: slug, removed };
  }

  /** Asks for a sync now: the tenant's job runs it (after the run in progress, if any). */
  async requestSync(slug: string, actor: Principal): Promise<SyncRequested> {
    const tenantId = await this.#tenantId(slug);
    const at = this.#o.clock.now();
    await this.#o.db.transaction().execute(async (tx) => {
      if (!(await this.#store.get(tenantId, tx))) {
        throw new NotFoundError(
          `tenant ${slug} has no directory to sync; set one with "steward directory set ${slug} --url … --bind-dn … --bind-password-stdin --base-dn …"`,
        );
      }
      await this.#store.requestSync(tx, tenantId, at, actorName(actor));
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'directory.sync.request',
        target: `tenant/${slug}/directory`,
        tenant: slug,
      });
      await enqueue(tx, ldapSyncJobKind, tenantId);
    });
    return { tenant: slug, requestedAt: at.toISOString() };
  }

  /** Queues every directory's job; safe on every start (the jobs coalesce). */
  async start(): Promise<void> {
    const tenants = await this.#store.tenantsWithDirectory();
    if (tenants.length === 0) return;
    await this.#o.db.transaction().execute(async (tx) => {
      for (const tenantId of tenants) await enqueue(tx, ldapSyncJobKind, tenantId);
    });
  }

  /** The tenant's job: syncs when asked to or when the schedule says so, then comes back when it next falls due. */
  readonly handle: JobHandler = async (job) => {
    const stored = await this.#store.get(job.key);
    if (!stored) return { kind: 'done' };
    const now = this.#o.clock.now();
    const last = await this.#store.lastStart(job.key);
    const requested = stored.syncRequestedAt !== null && (!last || stored.syncRequestedAt >= last);
    const every = stored.settings.everySeconds;
    const dueAt = !last ? now : every === null ? null : new Date(last.getTime() + every * 1000);
    if (!requested && (dueAt === null || dueAt > now)) {
      return dueAt === null
        ? { kind: 'done' }
        : { kind: 'requeue', afterMs: dueAt.getTime() - now.getTime() };
    }
    await this.syncNow(
      job.key,
      requested ? 'request' : 'schedule',
      requested ? (stored.syncRequestedBy ?? 'system') : 'system',
    );
    return every === null ? { kind: 'done' } : { kind: 'requeue', afterMs: every * 1000 };
  };

  /** One run, now: the pass the job calls. Never throws for the directory's failures: the run records them. */
  async syncNow(tenantId: string, trigger: SyncTrigger, requestedBy: string): Promise<SyncRunView> {
    const stored = await this.#store.get(tenantId);
    if (!stored) throw new NotFoundError(`tenant ${tenantId} has no directory`);
    const log = this.#o.logger.child({ tenant: stored.tenant, pass: 'ldap-sync' });
    const runId = await this.#store.startRun(tenantId, trigger, requestedBy, this.#o.clock.now());
    let lastWrite = 0;
    const progress = (text: string): void => {
      const at = Date.now();
      if (at - lastWrite < progressEveryMs) return;
      lastWrite = at;
      this.#store.progress(runId, text).catch(() => undefined);
    };
    let outcome: RunOutcome;
    let unexpected: unknown;
    try {
      outcome = await this.#pass(stored.tenantId, stored.settings, progress);
    } catch (error) {
      if (!(error instanceof LdapError)) unexpected = error;
      const reason =
        error instanceof LdapError
          ? error.message
          : `the sync failed inside Steward: ${(error as Error).message}; the server log has the details`;
      outcome = { status: 'failed', entries: 0, groups: 0, counts: emptyCounts(), problems: [], reason };
    }
    await this.#o.db.transaction().execute(async (tx) => {
      await this.#store.finishRun(tx, runId, outcome, this.#o.clock.now());
      await this.#o.audit.record(tx, {
        actor: requestedBy,
        action: 'directory.sync',
        target: `tenant/${stored.tenant}/directory`,
        tenant: stored.tenant,
        outcome: outcome.status === 'failed' ? 'failure' : 'success',
        details: {
          run: runId,
          trigger,
          status: outcome.status,
          entries: outcome.entries,
          ...outcome.counts,
          problems: outcome.problems.length,
          ...(outcome.reason ? { reason: outcome.reason } : {}),
        },
      });
    });
    if (unexpected) log.error({ err: unexpected, run: runId }, 'directory sync failed');
    else log.info({ run: runId, status: outcome.status, ...outcome.counts }, 'directory sync');
    const view = await this.#store.run(runId);
    if (!view) throw new NotFoundError(`directory sync run ${runId} vanished`);
    return view;
  }

  async #pass(
    tenantId: string,
    settings: LdapSettings,
    progress: (text: string) => void,
  ): Promise<RunOutcome> {
    const password = await this.#o.secrets.get(bindPasswordSecret(tenantId));
    const read = await this.#reader.read(settings, password, progress);
    const skipped: SkippedEntry[] = [];
    const users: LdapUser[] = [];
    for (const raw of read.users) {
      const entry = readUser(raw, settings.attributes);
      if (entry.kind === 'ok') users.push(entry.value);
      else skipped.push(entry.skipped);
    }
    let groups: LdapGroup[] | null = null;
    if (read.groups !== null) {
      groups = [];
      for (const raw of read.groups) {
        const entry = readGroup(raw, settings.attributes, settings.memberAttribute);
        if (entry.kind === 'ok') groups.push(entry.value);
        else skipped.push(entry.skipped);
      }
    }
    progress('reading the tenant’s users and groups');
    const directory = await readDirectory(this.#o.directory, tenantId);
    const plan = planSync({ users, groups, incomplete: read.incomplete, directory });
    const total = plan.actions.length;
    const applied = await applyPlan(this.#o.directory, tenantId, plan.actions, (done) =>
      progress(`applied ${done} of ${total} changes`),
    );
    const problems = [...skipped, ...plan.problems, ...applied.problems];
    return {
      status: plan.guard !== null || applied.problems.length > 0 ? 'partial' : 'succeeded',
      entries: read.users.length,
      groups: read.groups?.length ?? 0,
      counts: { ...countActions(applied.applied), skipped: skipped.length },
      problems,
      reason:
        plan.guard ??
        (applied.problems.length > 0
          ? `${applied.problems.length} changes were not applied; the next run tries again`
          : null),
    };
  }
}
