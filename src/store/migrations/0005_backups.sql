-- Physical backups (pgBackRest): one row per backup run of a cluster, the
-- evidence that a backup was taken (or why it failed). The stanza's advisory
-- lock, held by the run's own session, keeps two runs of a cluster apart; the
-- partial unique index says the same in the data.

create table backup_runs (
  id bigint generated always as identity primary key,
  -- The pgBackRest stanza: one per cluster.
  cluster text not null,
  type text not null check (type in ('full', 'diff', 'incr')),
  repo smallint not null check (repo between 1 and 4),
  status text not null default 'running' check (status in ('running', 'succeeded', 'failed')),
  label text,
  -- The pgbackrest process group while running: a later run ends it if Steward died meanwhile.
  pid integer,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  -- Bytes in the repository (compressed, encrypted) and of the database files covered.
  size_bytes bigint,
  database_bytes bigint,
  error text,
  check ((status = 'running') = (finished_at is null))
);
create index backup_runs_cluster on backup_runs (cluster, started_at desc);
create unique index backup_runs_one_running on backup_runs (cluster) where status = 'running';
