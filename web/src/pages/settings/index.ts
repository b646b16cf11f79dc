import type { PageDef } from '../../app/registry.ts';
import { de, en } from './messages.ts';

export const messages = { en, de };

/** Settings: tenants' policies, notification channels, master keys, the system. */
export const pages: PageDef[] = [
  {
    path: '/settings',
    titleKey: 'settings.title',
    load: () => import('./SettingsPage.tsx'),
    nav: { section: 'settings', labelKey: 'settings.nav', order: 10 },
    permission: 'tenants.read',
    audience: 'operator',
  },
];
