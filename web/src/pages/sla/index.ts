import type { PageDef } from '../../app/registry.ts';
import { de, en } from './messages.ts';

export const messages = { en, de };

/** SLA reports: view a period's figures and evidence, its freeze, the PDF. */
export const pages: PageDef[] = [
  {
    path: '/sla',
    titleKey: 'sla.title',
    load: () => import('./SlaReportPage.tsx'),
    nav: { section: 'evidence', labelKey: 'sla.nav', order: 10 },
    permission: 'tenants.read',
    audience: 'operator',
  },
];
