import type { PageDef } from '../../app/registry.ts';
import { de, en } from './messages.ts';

export const messages = { en, de };

/** On-call: schedules, overrides, escalation policies, contacts. */
export const pages: PageDef[] = [
  {
    path: '/oncall',
    titleKey: 'oncall.title',
    load: () => import('./OnCallPage.tsx'),
    nav: { section: 'operations', labelKey: 'oncall.nav', order: 40 },
    permission: 'tenants.read',
    audience: 'operator',
  },
  {
    path: '/oncall/:name',
    titleKey: 'oncall.title',
    load: () => import('./ScheduleDetail.tsx'),
    permission: 'tenants.read',
    audience: 'operator',
  },
];
