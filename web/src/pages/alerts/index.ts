import type { PageDef } from '../../app/registry.ts';
import { de, en } from './messages.ts';

export const messages = { en, de };

/** Alerts (acknowledge, resolve), silences and checks: the operations loop's first half. */
export const pages: PageDef[] = [
  {
    path: '/alerts',
    titleKey: 'alerts.title',
    load: () => import('./AlertList.tsx'),
    nav: { section: 'operations', labelKey: 'alerts.nav', order: 10 },
    permission: 'tenants.read',
    audience: 'operator',
  },
  {
    path: '/alerts/:id',
    titleKey: 'alerts.title',
    load: () => import('./AlertDetail.tsx'),
    permission: 'tenants.read',
    audience: 'operator',
  },
  {
    path: '/silences',
    titleKey: 'silences.title',
    load: () => import('./SilenceList.tsx'),
    nav: { section: 'operations', labelKey: 'silences.nav', order: 12 },
    permission: 'tenants.read',
    audience: 'operator',
  },
  {
    path: '/checks',
    titleKey: 'checks.title',
    load: () => import('./CheckList.tsx'),
    nav: { section: 'operations', labelKey: 'checks.nav', order: 14 },
    permission: 'tenants.read',
    audience: 'operator',
  },
];
