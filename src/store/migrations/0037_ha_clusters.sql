-- The ha tier (issue 14): a Patroni cluster of three members per ha stage.
-- One writer: src/databases/patroni/store.ts.

-- One Patroni cluster per ha stage (scope = the stage's database name): stages share nothing, so a
-- failover, restore or delete of one stage never touches another's database.
-- Its passwords (superuser, replication, REST API) are secrets (SecretService,
-- `ha/<scope>/superuser`, `ha/<scope>/replication`, `ha/<scope>/rest`), never here.
create table ha_clusters (
  scope text primary key check (scope ~ '^[a-z][a-z0-9_]{0,62}$'),
  -- 'absent' while a delete takes the cluster down: no node starts its members again.
  desired text not null default 'present' check (desired in ('present', 'absent')),
  -- synchronous_mode: no acknowledged commit is lost in a failover (config ha.synchronousStages).
  synchronous boolean not null,
  -- The etcd key prefix the members use (`/steward/`).
  namespace text not null check (namespace ~ '^/[a-z0-9/_-]*/$'),
  -- The database router's listen port for this cluster (127.0.0.1 on every node): the stage's DATABASE_URL.
  router_port integer not null unique check (router_port between 1 and 65535),
  created_at timestamptz not null default now()
);

-- The cluster's members: which Steward node runs each, where it listens, where its files are.
create table ha_members (
  scope text not null references ha_clusters (scope) on delete cascade,
  name text not null check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  node text not null,
  host text not null,
  pg_port integer not null check (pg_port between 1 and 65535),
  rest_port integer not null check (rest_port between 1 and 65535),
  data_dir text not null check (data_dir ~ '^/'),
  created_at timestamptz not null default now(),
  primary key (scope, name),
  unique (node, pg_port),
  unique (node, rest_port),
  unique (data_dir)
);
create index ha_members_node on ha_members (node);
