import type { PageDef } from '../../app/registry.ts';
import { de, en } from './messages.ts';

export const messages = { en, de };

/** Incidents: open, update, post-mortem, notice deadlines, close. */
export const pages: PageDef[] = [
  {
    path: '/incidents',
    titleKey: 'incidents.title',
    load: () => import('./IncidentList.tsx'),
    nav: { section: 'operations', labelKey: 'incidents.nav', order: 20 },
    permission: 'tenants.read',
    audience: 'operator',
  },
  {
    path: '/incidents/:id',
    titleKey: 'incidents.title',
    load: () => import('./IncidentDetail.tsx'),
    permission: 'tenants.read',
    audience: 'operator',
  },
];
