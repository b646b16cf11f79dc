-- Optional retention tiers of a tenant's backup policy (issue 5): beyond
-- retain_days, the newest full backup of each of the last keep_daily UTC days,
-- keep_weekly ISO weeks and keep_monthly calendar months is kept too. Null: the
-- tier is off; existing policies keep today's behaviour (all off).
alter table backup_policies
  add column keep_daily integer check (keep_daily between 1 and 3650),
  add column keep_weekly integer check (keep_weekly between 1 and 520),
  add column keep_monthly integer check (keep_monthly between 1 and 120);
