/** What the operators and tokens API returns (the fields these pages show). */
export interface OperatorRow {
  readonly username: string;
  readonly role: string;
  readonly mfa: boolean;
  readonly mustChangePassword: boolean;
  readonly lockedUntil: string | null;
  readonly lastLoginAt: string | null;
  readonly createdAt: string;
}

export interface AddedOperator {
  readonly operator: OperatorRow;
  /** Generated when none was given: shown once. */
  readonly password?: string;
}

export interface TokenRow {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly role: string;
  readonly scope: string | null;
  readonly operator: string;
  readonly prefix: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
  readonly createdAt: string;
}

export interface IssuedToken extends TokenRow {
  /** The secret, shown once; only its hash is stored. */
  readonly token: string;
}

export const operatorRoles = ['owner', 'operator', 'auditor'] as const;
export const tokenScopes = ['alertmanager'] as const;
