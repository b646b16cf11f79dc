import type { PageDef } from '../../app/registry.ts';
import { de, en } from './messages.ts';

export const messages = { en, de };

/** The audit log: filters and `verify`. */
export const pages: PageDef[] = [
  {
    path: '/audit',
    titleKey: 'audit.title',
    load: () => import('./AuditPage.tsx'),
    nav: { section: 'evidence', labelKey: 'audit.nav', order: 20 },
    permission: 'audit.read',
    audience: 'operator',
  },
];
