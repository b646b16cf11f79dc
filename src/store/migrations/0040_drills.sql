-- Failover drills (issue 14 part 4): each drill's measurements as evidence.
-- Writes: src/drills/store.ts only (ha-appliance's node-loss drill records
-- through it too). A drill of a stage's Patroni cluster kills its primary
-- (kill) or asks Patroni to hand over (switchover) under a write load and
-- measures; node-loss kills a whole Steward node of the appliance (no stage).
create table drills (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('kill', 'switchover', 'node-loss')),
  -- Kept when the stage goes (the evidence outlives it); the names say what it drilled.
  stage_id bigint references stages (id) on delete set null,
  tenant_slug text,
  stage_name text,
  -- The Patroni cluster (its scope), or the appliance for node-loss.
  cluster text not null,
  synchronous boolean,
  requested_by text not null,
  started_at timestamptz not null,
  -- When the fault was injected (the kill, the switchover request).
  fault_at timestamptz,
  ended_at timestamptz,
  -- The step the drill is at, for progress while it runs; its last step once it ended.
  phase text not null,
  outcome text not null check (outcome in ('running', 'passed', 'failed', 'interrupted')),
  reason text not null default '',
  -- Seconds from the fault to the first acknowledged write after it.
  writes_resume_seconds double precision check (writes_resume_seconds >= 0),
  acknowledged_writes bigint check (acknowledged_writes >= 0),
  -- Acknowledged writes missing once the cluster has a primary again.
  lost_commits bigint check (lost_commits >= 0),
  old_primary text,
  new_primary text,
  -- Seconds from the old primary's restart to its streaming from the new one.
  rejoin_seconds double precision check (rejoin_seconds >= 0),
  details jsonb not null default '{}',
  check ((outcome = 'running') = (ended_at is null)),
  check ((kind = 'node-loss') or (tenant_slug is not null and stage_name is not null))
);
-- One drill at a time per cluster: two would measure each other.
create unique index drills_one_running on drills (cluster) where outcome = 'running';
create index drills_by_tenant on drills (tenant_slug, started_at);
create index drills_by_time on drills (started_at);

-- Checks of ha clusters (member down, replication, leader and split brain) are of their own kind.
alter table checks drop constraint checks_kind_check;
alter table checks add constraint checks_kind_check
  check (kind in ('http', 'database', 'backup', 'process', 'disk', 'certificate', 'ha'));

-- Self-healing of ha clusters: start a member whose Patroni is down; reinit a replica that cannot rejoin.
alter table heal_attempts drop constraint heal_attempts_action_check;
alter table heal_attempts add constraint heal_attempts_action_check
  check (action in ('restart-process', 'restart-stage', 'rerun-backup', 'start-ha-member', 'reinit-ha-member'));
alter table alerts drop constraint alerts_heal_action_check;
alter table alerts add constraint alerts_heal_action_check
  check (heal_action in ('restart-process', 'restart-stage', 'rerun-backup', 'start-ha-member', 'reinit-ha-member'));
