import type { Config } from './config.ts';
import type { Invoice } from './ledger.ts';

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function formatAmount(cents: number, currency: string): string {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).format(cents / 100);
}

/** The one page: the stage's invoices, newest first. */
export function invoicesPage(config: Config, invoices: readonly Invoice[]): string {
  const rows = invoices
    .map(
      (i) =>
        `<tr><td>${escape(i.number)}</td><td>${escape(i.customerName)}</td>` +
        `<td class="n">${escape(formatAmount(i.amountCents, i.currency))}</td><td>${escape(i.status)}</td>` +
        `<td>${escape(i.createdAt.slice(0, 10))}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ledger · ${escape(config.tenant)} ${escape(config.stage)}</title>
<style>body{font:15px system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}.n{text-align:right}</style>
</head><body>
<h1>Invoices</h1>
<p>Tenant ${escape(config.tenant)}, stage ${escape(config.stage)}, release ${escape(config.release)}</p>
<table><thead><tr><th>Number</th><th>Customer</th><th class="n">Amount</th><th>Status</th><th>Created</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="5">No invoices yet.</td></tr>'}
</tbody></table>
</body></html>
`;
}
