-- Logical exports scheduled by a tenant's backup policy (issue 5): each ready
-- stage is exported every day or week, or never (null). Existing policies get
-- the default, weekly, as tenants without a policy row have it.
alter table backup_policies
  add column export_every text default 'weekly' check (export_every in ('daily', 'weekly'));
