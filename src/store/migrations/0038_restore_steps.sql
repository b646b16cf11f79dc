-- Restores as planner and steps (issue 14): the WAL segment archived before
-- the restore read the repository is a fact the planner reads (the step is
-- not redone after a restart); null until that step ran.
alter table restores add column archived_wal text;

-- Backups of ha stages (issue 14): a stanza per ha cluster.
alter table backup_clusters drop constraint backup_clusters_kind_check;
alter table backup_clusters add constraint backup_clusters_kind_check
  check (kind in ('shared', 'dedicated', 'ha'));
