import type { PageDef } from '../../app/registry.ts';
import { de, en } from './messages.ts';

export const messages = { en, de };

/** Maintenance planning: windows of tenants, announced ahead; end or cancel. */
export const pages: PageDef[] = [
  {
    path: '/maintenance',
    titleKey: 'maintenance.title',
    load: () => import('./MaintenancePage.tsx'),
    nav: { section: 'operations', labelKey: 'maintenance.nav', order: 30 },
    permission: 'tenants.read',
    audience: 'operator',
  },
];
