import type { PageDef } from '../../app/registry.ts';
import { messages } from './messages.ts';

export { messages };

export const pages: PageDef[] = [
  {
    path: '/tenants',
    titleKey: 'tenants.list.title',
    load: () => import('./TenantList.tsx'),
    nav: { section: 'tenants', labelKey: 'tenants.nav', order: 1 },
    permission: 'tenants.read',
    audience: 'operator',
  },
  {
    path: '/tenants/new',
    titleKey: 'tenants.create.title',
    load: () => import('./TenantCreate.tsx'),
    permission: 'tenants.write',
    audience: 'operator',
  },
  {
    path: '/tenants/:tenant',
    titleKey: 'tenants.detail.title',
    load: () => import('./TenantDetail.tsx'),
    permission: 'tenants.read',
    audience: 'operator',
  },
  {
    path: '/tenants/:tenant/stages/:stage',
    titleKey: 'stages.detail.title',
    load: () => import('./StageDetail.tsx'),
    permission: 'tenants.read',
    audience: 'operator',
  },
];
