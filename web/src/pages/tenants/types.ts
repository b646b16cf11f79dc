/** What the tenants API returns (GET /api/v1/tenants, /tenants/:tenant). */
export interface StageRow {
  readonly name: string;
  readonly desired: 'present' | 'absent';
  readonly phase: string;
  readonly reason: string;
  readonly database: string;
  readonly filesDir: string;
  readonly paused: boolean;
  readonly readyAt: string | null;
  readonly createdAt: string;
}

export interface TenantRow {
  readonly slug: string;
  readonly displayName: string;
  readonly region: string;
  readonly geography: string;
  readonly tier: string;
  readonly desired: 'present' | 'absent';
  readonly phase: string;
  readonly createdAt: string;
  readonly stages: readonly StageRow[];
}
