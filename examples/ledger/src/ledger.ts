/**
 * The ledger's data: customers, invoices, attachments and the outbox events an
 * invoice's status changes put there for the worker. Plain SQL over pg.
 */
import type { Client, Pool } from './db.ts';
import { inTransaction } from './db.ts';
import { HttpError, notFound } from './http.ts';

export const invoiceStatuses = ['draft', 'sent', 'paid'] as const;
export type InvoiceStatus = (typeof invoiceStatuses)[number];

/** Which status may follow which; each change is one outbox event. */
const nextStatus: Record<InvoiceStatus, readonly InvoiceStatus[]> = {
  draft: ['sent'],
  sent: ['paid'],
  paid: [],
};

export interface Customer {
  readonly id: number;
  readonly name: string;
  readonly email: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
}

export interface Attachment {
  readonly id: number;
  readonly invoiceId: number;
  readonly fileName: string;
  readonly storedPath: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly contentType: string;
  readonly createdBy: string;
  readonly createdAt: string;
}

export interface Invoice {
  readonly id: number;
  readonly number: string;
  readonly customerId: number;
  readonly customerName: string;
  /** Null: in no folder, open to everyone. */
  readonly folderId: number | null;
  readonly amountCents: number;
  readonly currency: string;
  readonly status: InvoiceStatus;
  readonly description: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly sentAt: string | null;
  readonly paidAt: string | null;
  readonly deliveredAt: string | null;
}

const iso = (value: unknown): string | null => (value instanceof Date ? value.toISOString() : null);

interface CustomerRow {
  id: number;
  name: string;
  email: string | null;
  created_by: string;
  created_at: Date;
}

const toCustomer = (r: CustomerRow): Customer => ({
  id: r.id,
  name: r.name,
  email: r.email,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
});

interface InvoiceRow {
  id: number;
  number: string;
  customer_id: number;
  customer_name: string;
  folder_id: number | null;
  amount_cents: number;
  currency: string;
  status: InvoiceStatus;
  description: string;
  created_by: string;
  created_at: Date;
  sent_at: Date | null;
  paid_at: Date | null;
  delivered_at: Date | null;
}

const toInvoice = (r: InvoiceRow): Invoice => ({
  id: r.id,
  number: r.number,
  customerId: r.customer_id,
  customerName: r.customer_name,
  folderId: r.folder_id,
  amountCents: r.amount_cents,
  currency: r.currency,
  status: r.status,
  description: r.description,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  sentAt: iso(r.sent_at),
  paidAt: iso(r.paid_at),
  deliveredAt: iso(r.delivered_at),
});

interface AttachmentRow {
  id: number;
  invoice_id: number;
  file_name: string;
  stored_path: string;
  size_bytes: number;
  sha256: string;
  content_type: string;
  created_by: string;
  created_at: Date;
}

const toAttachment = (r: AttachmentRow): Attachment => ({
  id: r.id,
  invoiceId: r.invoice_id,
  fileName: r.file_name,
  storedPath: r.stored_path,
  sizeBytes: r.size_bytes,
  sha256: r.sha256,
  contentType: r.content_type,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
});

const invoiceSelect = `
  select i.*, c.name as customer_name
  from invoices i join customers c on c.id = i.customer_id`;

export class Ledger {
  readonly #pool: Pool;
  constructor(pool: Pool) {
    this.#pool = pool;
  }

  async listCustomers(): Promise<Customer[]> {
    const { rows } = await this.#pool.query<CustomerRow>('select * from customers order by id limit 1000');
    return rows.map(toCustomer);
  }

  async createCustomer(input: {
    name: string;
    email: string | undefined;
    createdBy: string;
  }): Promise<Customer> {
    const { rows } = await this.#pool.query<CustomerRow>(
      'insert into customers (name, email, created_by) values ($1, $2, $3) returning *',
      [input.name, input.email ?? null, input.createdBy],
    );
    return toCustomer(rows[0]!);
  }

  /** Invoices in no folder and in the `readable` folders, newest first. */
  async listInvoices(
    readable: readonly number[],
    filter: { status?: InvoiceStatus; customerId?: number; folderId?: number } = {},
  ): Promise<Invoice[]> {
    const { rows } = await this.#pool.query<InvoiceRow>(
      `${invoiceSelect}
       where ($1::text is null or i.status = $1) and ($2::bigint is null or i.customer_id = $2)
         and (i.folder_id is null or i.folder_id = any($3::bigint[]))
         and ($4::bigint is null or i.folder_id = $4)
       order by i.id desc limit 1000`,
      [filter.status ?? null, filter.customerId ?? null, readable, filter.folderId ?? null],
    );
    return rows.map(toInvoice);
  }

  async createInvoice(input: {
    customerId: number;
    folderId: number | null;
    amountCents: number;
    currency: string;
    description: string;
    createdBy: string;
  }): Promise<Invoice> {
    return inTransaction(this.#pool, async (client) => {
      const customer = await client.query('select 1 from customers where id = $1 for key share', [
        input.customerId,
      ]);
      if (customer.rowCount === 0)
        throw new HttpError(
          400,
          'input',
          `customerId: customer ${input.customerId} does not exist`,
          'customerId',
        );
      const { rows } = await client.query<{ id: number }>(
        `insert into invoices (customer_id, folder_id, amount_cents, currency, description, created_by)
         values ($1, $2, $3, $4, $5, $6) returning id`,
        [
          input.customerId,
          input.folderId,
          input.amountCents,
          input.currency,
          input.description,
          input.createdBy,
        ],
      );
      return (await this.#invoice(client, rows[0]!.id))!;
    });
  }

  async getInvoice(id: number): Promise<{ invoice: Invoice; attachments: Attachment[] }> {
    const client = await this.#pool.connect();
    try {
      const invoice = await this.#invoice(client, id);
      if (!invoice) throw notFound(`invoice ${id} does not exist`);
      const { rows } = await client.query<AttachmentRow>(
        'select * from invoice_attachments where invoice_id = $1 order by id',
        [id],
      );
      return { invoice, attachments: rows.map(toAttachment) };
    } finally {
      client.release();
    }
  }

  /** Moves an invoice on (draft → sent → paid) and queues the event, in one transaction. */
  async changeStatus(id: number, status: InvoiceStatus, actor: string): Promise<Invoice> {
    return inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<{ status: InvoiceStatus }>(
        'select status from invoices where id = $1 for update',
        [id],
      );
      const current = rows[0];
      if (!current) throw notFound(`invoice ${id} does not exist`);
      if (current.status === status) return (await this.#invoice(client, id))!;
      if (!nextStatus[current.status].includes(status))
        throw new HttpError(
          409,
          'conflict',
          `invoice ${id} is ${current.status}; it can move to ${nextStatus[current.status].join(' or ') || 'nothing'}, not ${status}`,
          'status',
        );
      await client.query(
        `update invoices set status = $2,
           sent_at = case when $2 = 'sent' then now() else sent_at end,
           paid_at = case when $2 = 'paid' then now() else paid_at end
         where id = $1`,
        [id, status],
      );
      await client.query(`insert into outbox (kind, payload) values ($1, $2)`, [
        `invoice.${status}`,
        JSON.stringify({ invoiceId: id, actor }),
      ]);
      return (await this.#invoice(client, id))!;
    });
  }

  /**
   * Records an attachment and, while its row is still uncommitted, lets the
   * caller move the file into place; a failed move rolls the row back.
   */
  async addAttachment(
    input: Omit<Attachment, 'id' | 'createdAt'>,
    place: () => Promise<void>,
  ): Promise<Attachment> {
    return inTransaction(this.#pool, async (client) => {
      const invoice = await client.query('select 1 from invoices where id = $1 for key share', [
        input.invoiceId,
      ]);
      if (invoice.rowCount === 0) throw notFound(`invoice ${input.invoiceId} does not exist`);
      const { rows } = await client.query<AttachmentRow>(
        `insert into invoice_attachments
           (invoice_id, file_name, stored_path, size_bytes, sha256, content_type, created_by)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (invoice_id, file_name) do nothing
         returning *`,
        [
          input.invoiceId,
          input.fileName,
          input.storedPath,
          input.sizeBytes,
          input.sha256,
          input.contentType,
          input.createdBy,
        ],
      );
      const row = rows[0];
      if (!row)
        throw new HttpError(
          409,
          'conflict',
          `invoice ${input.invoiceId} already has an attachment named ${input.fileName}`,
          'name',
        );
      await place();
      return toAttachment(row);
    });
  }

  async getAttachment(invoiceId: number, attachmentId: number): Promise<Attachment> {
    const { rows } = await this.#pool.query<AttachmentRow>(
      'select * from invoice_attachments where invoice_id = $1 and id = $2',
      [invoiceId, attachmentId],
    );
    const row = rows[0];
    if (!row) throw notFound(`invoice ${invoiceId} has no attachment ${attachmentId}`);
    return toAttachment(row);
  }

  async #invoice(client: Client, id: number): Promise<Invoice | undefined> {
    const { rows } = await client.query<InvoiceRow>(`${invoiceSelect} where i.id = $1`, [id]);
    return rows[0] ? toInvoice(rows[0]) : undefined;
  }
}
