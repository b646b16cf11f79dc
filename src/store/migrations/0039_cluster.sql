-- Several Steward processes against one control database (issue 14, part 3).
-- One writer each: nodes is src/cluster/nodes.ts's, leases is src/cluster/leases.ts's.
-- Every time in both tables is the database's clock (now()), never a node's.

-- One row per Steward node (its name is config node.name, default the host name).
-- A process registers under its name with a fresh incarnation; a name whose
-- heartbeat is recent belongs to a live process and is refused to a second one.
create table nodes (
  name text primary key check (name ~ '^[a-z0-9][a-z0-9.-]{0,62}$'),
  -- This process's registration: leases name it as their holder, so a restarted node never holds its predecessor's term.
  incarnation uuid not null,
  -- Where the process runs (host name and pid): a restart on the same host may take over its own dead predecessor at once.
  host text not null,
  pid integer not null,
  -- When that process started, by its host's clock (compared only on the same host): a pid used again
  -- (a container's pid 1 after a restart) is told from the process that had it before.
  process_started_at timestamptz not null,
  -- The API address the node listens on, once it does.
  api_url text,
  started_at timestamptz not null,
  heartbeat_at timestamptz not null,
  -- Set by a clean stop: the name is free at once, and the node shows as gone.
  stopped_at timestamptz
);

-- One row per singleton work (a lease name): who may do it until when.
-- A row is never deleted, so that the fencing epoch only ever grows.
create table leases (
  name text primary key check (name ~ '^[a-z][a-z0-9-]{0,62}$'),
  node text not null,
  holder uuid not null,
  -- Grows by one each time another incarnation takes the lease: work can be fenced by it.
  epoch bigint not null check (epoch > 0),
  acquired_at timestamptz not null,
  renewed_at timestamptz not null,
  expires_at timestamptz not null
);
