import type { PageDef } from '../../app/registry.ts';
import { de, en } from './messages.ts';

export const messages = { en, de };

/** Operators (add, remove, MFA reset) and API tokens (create: the secret shown once; revoke). */
export const pages: PageDef[] = [
  {
    path: '/access/operators',
    titleKey: 'operators.title',
    load: () => import('./OperatorList.tsx'),
    nav: { section: 'access', labelKey: 'operators.nav', order: 10 },
    permission: 'operators.read',
    audience: 'operator',
  },
  {
    path: '/access/tokens',
    titleKey: 'tokens.title',
    load: () => import('./TokenList.tsx'),
    nav: { section: 'access', labelKey: 'tokens.nav', order: 20 },
    permission: 'tokens.self',
    audience: 'operator',
  },
];
