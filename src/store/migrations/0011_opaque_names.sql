-- Names that reveal no customers (issue 9 part 4). Every role of a shared
-- cluster can read pg_database, pg_roles and pg_stat_activity, so a stage's
-- database and role are named by an opaque id (`<prefix><12 random>`), chosen
-- once and kept in stages.database_name. New stages get one at creation.
-- Existing stages keep their current name here, so that nothing breaks while
-- Steward starts; the stage reconciler then picks an opaque name, records the
-- old one below, and renames the database and role (see src/tenants/rename-plan.ts).

alter table stages
  -- The slug-bearing name the stage's database and role had before the
  -- reconciler renamed them; null for a stage born with an opaque name. Kept
  -- after the rename: backups taken before database_renamed_at hold the
  -- database under this name.
  add column previous_database_name text unique,
  -- When the database and role finished taking database_name; null while the
  -- rename is under way (or never needed).
  add column database_renamed_at timestamptz,
  add constraint stages_rename_has_previous
    check (database_renamed_at is null or previous_database_name is not null);

-- A restore from a backup taken before its stage's rename, to a time after it:
-- pgBackRest finds the database in the backup under its old name (--db-include),
-- and WAL replay gives it the new one (source_database). Null: no rename between.
alter table restores add column source_database_in_backup text;
