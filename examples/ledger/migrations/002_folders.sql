-- Folders of invoices, each readable and writable by named app roles and
-- groups (from the signed identity Steward's edge sends). An invoice in no
-- folder is open to everyone, as before folders.

create table folders (
  id bigint generated always as identity primary key,
  name text not null check (length(name) between 1 and 100),
  -- Roles compare exactly; groups without regard to case (as Steward compares them).
  read_roles text[] not null default '{}',
  read_groups text[] not null default '{}',
  write_roles text[] not null default '{}',
  write_groups text[] not null default '{}',
  created_by text not null,
  created_at timestamptz not null default now()
);
create unique index folders_name_idx on folders (lower(name));

alter table invoices add column folder_id bigint references folders (id);
create index invoices_folder_idx on invoices (folder_id) where folder_id is not null;
