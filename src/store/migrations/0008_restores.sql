-- Restores and restore tests (issue 5): table fingerprints recorded right
-- after each backup, point-in-time restores of one stage (into a new stage or
-- in place), and restore tests with their evidence (RPO, RTO, verification).
-- Evidence outlives its tenant: names are kept as text, without foreign keys.

-- What a stage's database held at a restore point made right after a backup:
-- a restore of that backup to that restore point must hold exactly this.
create table backup_fingerprints (
  id bigserial primary key,
  -- The pgBackRest stanza of the cluster ("shared", or a dedicated stage's database name).
  cluster text not null,
  repo smallint not null,
  backup_label text not null,
  database_name text not null,
  restore_point text not null,
  lsn text not null,
  -- The WAL segment holding the restore point: a restore waits until it is archived.
  wal_file text not null,
  -- False when no quiet moment was found; `why` says so, and a mismatch may then be the writers'.
  exact boolean not null,
  why text,
  -- [{schema, table, rows, sum, xor}], see src/backups/fingerprint.ts.
  tables jsonb not null,
  taken_at timestamptz not null,
  created_at timestamptz not null default now(),
  unique (cluster, repo, backup_label, database_name)
);
create index backup_fingerprints_database on backup_fingerprints (cluster, database_name, taken_at desc);

create table restores (
  id uuid primary key,
  tenant_slug text not null,
  source_stage text not null,
  target_stage text not null,
  mode text not null check (mode in ('into', 'in-place')),
  target_time timestamptz not null,
  cluster text not null,
  repo smallint not null,
  -- The backup restored (--set): the newest good one consistent at or before the target time.
  backup_label text not null,
  source_database text not null,
  target_database text not null,
  -- Where the copy goes before it takes the target's name (in the target's cluster).
  replacement_database text not null,
  -- The name the old database is kept under (in place), until `restore discard`.
  kept_database text,
  kept_files_dir text,
  discarded_at timestamptz,
  discarded_by text,
  -- Fingerprint of the restored database in the scratch: the copy must equal it before the swap.
  fingerprint jsonb,
  status text not null default 'running' check (status in ('running', 'succeeded', 'failed')),
  phase text not null default 'queued',
  progress text not null default '',
  -- The export the stage's files came from, or why they were not restored.
  files_export_id uuid,
  files_note text,
  error text,
  -- Milliseconds per phase (restore, copy, verify, swap, files) and in all.
  timings jsonb not null default '{}',
  created_by text not null,
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  check ((status = 'running') = (finished_at is null))
);
-- One restore at a time into a stage.
create unique index restores_one_running on restores (tenant_slug, target_stage) where status = 'running';
create index restores_tenant on restores (tenant_slug, created_at desc);

create table restore_tests (
  id uuid primary key,
  tenant_slug text not null,
  stage_name text not null,
  cluster text not null,
  trigger text not null check (trigger in ('manual', 'schedule')),
  status text not null default 'running' check (status in ('running', 'succeeded', 'failed')),
  phase text not null default 'queued',
  repo smallint,
  backup_label text,
  backup_stopped_at timestamptz,
  restore_point text,
  -- Now minus the backup's stop when the test ran: the data a loss at that moment would have cost at most.
  rpo_seconds integer,
  -- From the start of the restore until the restored database was verified.
  rto_ms integer,
  -- {fingerprint: {exact, tables: [{table, expected, actual, ok}]}, app: {command, exitCode, output}}.
  verification jsonb,
  error text,
  created_by text not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  check ((status = 'running') = (finished_at is null))
);
-- One restore test of a stage at a time.
create unique index restore_tests_one_running on restore_tests (tenant_slug, stage_name) where status = 'running';
create index restore_tests_stage on restore_tests (tenant_slug, stage_name, started_at desc);
create index restore_tests_started on restore_tests (started_at desc);
