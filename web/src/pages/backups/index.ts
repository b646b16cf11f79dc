import type { PageDef } from '../../app/registry.ts';
import { de, en } from './messages.ts';

export const messages = { en, de };

/** Backups, restores and restore tests with their evidence (RPO, RTO, fingerprints). */
export const pages: PageDef[] = [
  {
    path: '/backups',
    titleKey: 'backups.title',
    load: () => import('./BackupsPage.tsx'),
    nav: { section: 'evidence', labelKey: 'backups.nav', order: 30 },
    permission: 'tenants.read',
    audience: 'operator',
  },
  {
    path: '/backups/restore-tests/:id',
    titleKey: 'backups.tab.tests',
    load: () => import('./RestoreTestDetail.tsx'),
    permission: 'tenants.read',
    audience: 'operator',
  },
];
