import type { paths } from '../../../../src/api/client/schema.ts';
import type { ListItem } from '../../../../src/api/client/typed.ts';

/** What the operators and tokens API returns: the types generated from its contracts. */
export type OperatorRow = ListItem<paths, '/api/v1/operators'>;
export type TokenRow = ListItem<paths, '/api/v1/tokens'>;

export const operatorRoles = ['owner', 'operator', 'auditor'] as const;
export const tokenScopes = ['alertmanager'] as const;
