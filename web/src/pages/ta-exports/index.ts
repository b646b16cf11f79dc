import type { PageDef } from '../../app/registry.ts';

/** A tenant's exports (its data, encrypted to its key): download them. */
export const pages: PageDef[] = [
  {
    path: '/t/:tenant/exports',
    titleKey: 'ta.exports.title',
    load: () => import('./Exports.tsx'),
    nav: { section: 'tenant', labelKey: 'ta.exports.nav', order: 5 },
    permission: 'tenants.read',
    audience: 'tenant-admin',
  },
];

export const messages = {
  en: {
    'ta.exports.nav': 'Exports',
    'ta.exports.title': 'Exports',
    'ta.exports.intro':
      "Your stages' databases and files, encrypted to your export key: only you can open them. Each download is audited.",
    'ta.exports.empty': 'No exports yet. Your vendor makes them on request or on a schedule.',
    'ta.exports.field.createdAt': 'Made',
    'ta.exports.field.status': 'Status',
    'ta.exports.field.size': 'Size',
    'ta.exports.field.sha256': 'SHA-256 (encrypted file)',
    'ta.exports.download': 'Download',
    'ta.exports.download.label': 'Download export {file}',
  },
  de: {
    'ta.exports.nav': 'Exporte',
    'ta.exports.title': 'Exporte',
    'ta.exports.intro':
      'Datenbanken und Dateien Ihrer Stufen, verschlüsselt für Ihren Export-Schlüssel: Nur Sie können sie öffnen. Jeder Download wird protokolliert.',
    'ta.exports.empty': 'Noch keine Exporte. Ihr Anbieter erstellt sie auf Anfrage oder nach Plan.',
    'ta.exports.field.createdAt': 'Erstellt',
    'ta.exports.field.status': 'Status',
    'ta.exports.field.size': 'Größe',
    'ta.exports.field.sha256': 'SHA-256 (verschlüsselte Datei)',
    'ta.exports.download': 'Herunterladen',
    'ta.exports.download.label': 'Export {file} herunterladen',
  },
};
