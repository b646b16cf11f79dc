-- Runtime: each stage's published endpoint, scale to zero, files quota, and
-- the phase of its processes; at most one deployment in flight per stage.

alter table stages add column published_port integer unique;
alter table stages add column scale_to_zero_seconds integer
  check (scale_to_zero_seconds is null or scale_to_zero_seconds >= 10);
alter table stages add column files_quota_bytes bigint check (files_quota_bytes is null or files_quota_bytes > 0);
alter table stages add column files_bytes bigint;
alter table stages add column runtime_phase text not null default 'idle';
alter table stages add column runtime_reason text not null default 'no release deployed yet';

create index deployments_stage on deployments (stage_id, id desc);
create unique index deployments_one_in_flight on deployments (stage_id)
  where status in ('pending', 'migrating', 'starting');
