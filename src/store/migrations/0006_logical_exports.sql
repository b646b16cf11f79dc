-- Logical exports: one encrypted archive per stage and run (pg_dump -Fc of the
-- stage's database plus its files), kept under <data-dir>/exports. The key that
-- encrypts them is a tenant's, kept in the secrets store, never here.

create table logical_exports (
  id uuid primary key,
  tenant_id bigint not null references tenants (id) on delete cascade,
  -- The stage may be removed later; its exports stay (names kept as text) until retention drops them.
  stage_id bigint references stages (id) on delete set null,
  tenant_slug text not null,
  stage_name text not null,
  status text not null default 'running' check (status in ('running', 'succeeded', 'failed')),
  reason text not null default '',
  path text not null,
  -- age recipient type: 'x25519' or 'scrypt'.
  key_kind text not null,
  size_bytes bigint,
  sha256 text,
  database_bytes bigint,
  file_count integer,
  created_by text not null,
  created_at timestamptz not null default now(),
  finished_at timestamptz
);
create index logical_exports_stage on logical_exports (tenant_slug, stage_name, created_at desc);
