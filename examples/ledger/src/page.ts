import type { Config } from './config.ts';
import type { Folder } from './folders.ts';
import type { Identity } from './identity.ts';
import type { Invoice } from './ledger.ts';

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function formatAmount(cents: number, currency: string): string {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).format(cents / 100);
}

const list = (items: readonly string[]): string => (items.length ? items.map(escape).join(', ') : '(none)');

function whoPart(identity: Identity): string {
  if (!identity.authenticated) return '<p id="who">Not signed in.</p>';
  const name = identity.name ?? identity.id;
  return `<p id="who">Signed in as <strong>${escape(name)}</strong>${identity.email ? ` &lt;${escape(identity.email)}&gt;` : ''}.</p>
<dl><dt>Groups</dt><dd id="groups">${list(identity.groups)}${identity.groupsOverage ? ' (and more)' : ''}</dd>
<dt>Roles</dt><dd id="roles">${list(identity.roles)}</dd></dl>`;
}

/** The one page: who is signed in, the folders they may open, and the invoices they may see. */
export function homePage(
  config: Config,
  identity: Identity,
  folders: readonly (Folder & { access: string })[],
  invoices: readonly Invoice[],
): string {
  const folderName = new Map(folders.map((f) => [f.id, f.name]));
  const folderRows = folders
    .map((f) => `<tr><td>${escape(f.name)}</td><td>${escape(f.access)}</td></tr>`)
    .join('\n');
  const rows = invoices
    .map(
      (i) =>
        `<tr><td>${escape(i.number)}</td><td>${escape(i.customerName)}</td>` +
        `<td>${escape(i.folderId === null ? '-' : (folderName.get(i.folderId) ?? '?'))}</td>` +
        `<td class="n">${escape(formatAmount(i.amountCents, i.currency))}</td><td>${escape(i.status)}</td>` +
        `<td>${escape(i.createdAt.slice(0, 10))}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ledger · ${escape(config.tenant)} ${escape(config.stage)}</title>
<style>body{font:15px system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}.n{text-align:right}dt{font-weight:600}</style>
</head><body>
<h1>Ledger</h1>
<p>Tenant ${escape(config.tenant)}, stage ${escape(config.stage)}, release ${escape(config.release)}</p>
${whoPart(identity)}
<h2>Folders</h2>
<table id="folders"><thead><tr><th>Folder</th><th>Your access</th></tr></thead>
<tbody>
${folderRows || '<tr><td colspan="2">No folders you may open.</td></tr>'}
</tbody></table>
<h2>Invoices</h2>
<table id="invoices"><thead><tr><th>Number</th><th>Customer</th><th>Folder</th><th class="n">Amount</th><th>Status</th><th>Created</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="6">No invoices yet.</td></tr>'}
</tbody></table>
</body></html>
`;
}
