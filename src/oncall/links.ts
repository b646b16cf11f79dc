import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { AlertsApi, AlertView } from '../alerts/contract.ts';
import type { Clock } from '../core/clock.ts';
import { ForbiddenError, NotFoundError, isStewardError } from '../core/errors.ts';
import { can, type OperatorRole, type Principal } from '../core/policy.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ControlDb } from '../store/db.ts';
import { signLink, verifyLink, type LinkAction, type LinkClaims } from './link.ts';
import { confirmPage, donePage, errorPage, type PageLinks } from './page-text.ts';
import { linkUsedAt, listOperators, useLink } from './store.ts';

/**
 * The signed single-use links of page emails: the key (made once, sealed in
 * the secret store), the URLs, and what GET and POST on one answer. A page
 * is HTML with a status; nothing here throws at the visitor.
 */
export interface LinkOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly clock: Clock;
  readonly alerts: () => AlertsApi | undefined;
  readonly linkHours: number;
  /** The links' base URL: config oncall.publicUrl, else the API's own address once it listens. */
  readonly baseUrl: () => string | undefined;
}

export interface LinkPage {
  readonly status: number;
  readonly html: string;
}

const keySecret = 'oncall/link-key';
/** Serialises making the key, so that two processes starting at once agree on one. */
const keyLockId = 0x0ca1_11c5;
export const linkPath = '/api/v1/oncall/link';

/** What acknowledging and resolving need through the API: a link carries no more than its recipient's role allows. */
export function mayAct(role: OperatorRole): boolean {
  return can(role, 'tenants.write');
}

export class LinkKeeper {
  readonly #o: LinkOptions;
  #key: Buffer | undefined;

  constructor(options: LinkOptions) {
    this.#o = options;
  }

  async #keyBuffer(): Promise<Buffer> {
    if (this.#key) return this.#key;
    const encoded = await this.#o.db.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(${keyLockId})`.execute(tx);
      try {
        return await this.#o.secrets.get(keySecret, tx);
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        const made = randomBytes(32).toString('base64');
        await this.#o.secrets.put(tx, keySecret, made);
        return made;
      }
    });
    this.#key = Buffer.from(encoded, 'base64');
    return this.#key;
  }

  /** Both links for one recipient of a page; undefined when no URL is known to put in them. */
  async linksFor(alertId: string, recipient: string): Promise<PageLinks | undefined> {
    const base = this.#o.baseUrl();
    if (!base) return undefined;
    const key = await this.#keyBuffer();
    const expiresAt = new Date(this.#o.clock.now().getTime() + this.#o.linkHours * 3_600_000);
    const url = (action: LinkAction): string =>
      `${base.replace(/\/+$/, '')}${linkPath}?token=${signLink(key, { alert: alertId, action, recipient, expiresAt })}`;
    return { acknowledge: url('acknowledge'), resolve: url('resolve'), expiresAt };
  }

  async #check(
    token: string,
  ): Promise<
    { ok: true; claims: LinkClaims; alert: AlertView; alerts: AlertsApi } | { ok: false; page: LinkPage }
  > {
    const checked = verifyLink(await this.#keyBuffer(), token, this.#o.clock.now());
    if (!checked.ok) {
      const status = checked.reason === 'expired' ? 410 : 400;
      const title = checked.reason === 'expired' ? 'This link has expired' : 'This link is not valid';
      return { ok: false, page: { status, html: errorPage(title, checked.message) } };
    }
    const alerts = this.#o.alerts();
    if (!alerts) {
      return {
        ok: false,
        page: {
          status: 503,
          html: errorPage('Alerts are not available', 'This Steward runs no alert service.'),
        },
      };
    }
    try {
      const alert = await alerts.get(checked.claims.alert);
      return { ok: true, claims: checked.claims, alert, alerts };
    } catch (error) {
      if (!isStewardError(error)) throw error;
      return {
        ok: false,
        page: { status: error.status, html: errorPage('Alert not found', error.message) },
      };
    }
  }

  /** GET: a confirmation page; it changes nothing. */
  async show(token: string): Promise<LinkPage> {
    const checked = await this.#check(token);
    if (!checked.ok) return checked.page;
    const usedAt = await linkUsedAt(this.#o.db, checked.claims.nonce);
    if (usedAt) return used(usedAt);
    return {
      status: 200,
      html: confirmPage({
        alert: checked.alert,
        action: checked.claims.action,
        recipient: checked.claims.recipient,
      }),
    };
  }

  /**
   * POST: acts once, as the recipient. The use is recorded in a transaction
   * that commits only if the alert service did it: a failed action leaves
   * the link usable, a second use (even at the same instant) acts on nothing.
   */
  async act(token: string, address: string): Promise<LinkPage> {
    const checked = await this.#check(token);
    if (!checked.ok) return checked.page;
    const { claims, alerts } = checked;
    try {
      return await this.#o.db.transaction().execute(async (tx): Promise<LinkPage> => {
        const use = await useLink(tx, {
          nonce: claims.nonce,
          alertId: claims.alert,
          action: claims.action,
          recipient: claims.recipient,
          at: this.#o.clock.now(),
        });
        if (!use.used) return used(use.usedAt);
        const operator = (await listOperators(tx)).find((o) => o.username === claims.recipient);
        if (!operator) throw new NotFoundError(`operator ${claims.recipient} no longer exists`);
        if (!mayAct(operator.role)) {
          throw new ForbiddenError(
            `operator ${operator.username} has role ${operator.role}, which may not ${claims.action} alerts`,
          );
        }
        const principal: Principal = {
          kind: 'operator',
          operatorId: operator.id,
          username: operator.username,
          role: operator.role,
          tokenId: null,
          address,
          accountAccess: false,
        };
        const after =
          claims.action === 'acknowledge'
            ? await alerts.acknowledge(claims.alert, principal)
            : await alerts.resolve(claims.alert, principal, 'resolved from the link in a page email');
        return { status: 200, html: donePage(after, claims.action, operator.username) };
      });
    } catch (error) {
      if (!isStewardError(error)) throw error;
      return { status: error.status, html: errorPage('Nothing was changed', error.message) };
    }
  }
}

function used(at: Date): LinkPage {
  return {
    status: 409,
    html: errorPage(
      'This link was used already',
      `It was used at ${at.toISOString()}; each link works once.`,
    ),
  };
}
