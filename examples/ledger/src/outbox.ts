/**
 * The worker's queue: outbox rows written in the same transaction as the
 * change they announce. One pass claims a batch with FOR UPDATE SKIP LOCKED,
 * so several workers never handle the same event, handles each, and marks it
 * processed or schedules a retry, all before the claim's transaction ends.
 */
import type { Client, Pool } from './db.ts';
import type { Logger } from './log.ts';
import { errorFields } from './log.ts';

export interface OutboxEvent {
  readonly id: number;
  readonly kind: string;
  readonly payload: unknown;
  readonly attempts: number;
}

export type EventHandler = (client: Client, event: OutboxEvent) => Promise<void>;

const maxAttempts = 5;

/** What the ledger does for each kind of event. */
export const handlers: Readonly<Record<string, EventHandler>> = {
  // "Sending" an invoice: the delivery is recorded on the invoice.
  'invoice.sent': async (client, event) => {
    const invoiceId = invoiceIdOf(event);
    await client.query('update invoices set delivered_at = now() where id = $1 and delivered_at is null', [
      invoiceId,
    ]);
  },
  'invoice.paid': async () => {
    // Nothing to deliver; a real app would book the payment. Processing it is enough.
  },
};

function invoiceIdOf(event: OutboxEvent): number {
  const payload = event.payload as { invoiceId?: unknown } | null;
  const id = payload?.invoiceId;
  if (typeof id !== 'number') throw new Error(`event ${event.id} has no invoiceId`);
  return id;
}

/** One pass: claims up to `batch` due events and handles them. Returns how many it handled. */
export async function runOnce(pool: Pool, logger: Logger, batch = 20): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const { rows } = await client.query<OutboxEvent>(
      `select id, kind, payload, attempts from outbox
       where processed_at is null and failed_at is null and run_after <= now()
       order by run_after, id
       limit $1
       for update skip locked`,
      [batch],
    );
    for (const event of rows) {
      const handler = handlers[event.kind];
      await client.query('savepoint event');
      try {
        if (!handler) throw new Error(`no handler for event kind ${event.kind}`);
        await handler(client, event);
        await client.query('update outbox set processed_at = now(), attempts = attempts + 1 where id = $1', [
          event.id,
        ]);
        await client.query('release savepoint event');
        logger.info('event processed', { event: event.id, kind: event.kind });
      } catch (error) {
        await client.query('rollback to savepoint event');
        const attempts = event.attempts + 1;
        const giveUp = !handler || attempts >= maxAttempts;
        await client.query(
          `update outbox set attempts = $2, last_error = $3,
             failed_at = case when $4 then now() end,
             run_after = now() + make_interval(secs => $5)
           where id = $1`,
          [event.id, attempts, errorFields(error)['error'], giveUp, 2 ** attempts],
        );
        logger.warn(giveUp ? 'event failed for good' : 'event failed; will retry', {
          event: event.id,
          kind: event.kind,
          attempts,
          ...errorFields(error),
        });
      }
    }
    await client.query('commit');
    return rows.length;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
