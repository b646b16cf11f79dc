-- Notifications (issue 10 part 4): channels, a durable outbox and a delivery
-- log. Alerts, on-call and the watchdog enqueue; the dispatcher delivers.

-- Where notifications go. A webhook's HMAC secret lives in the secret store
-- (secret_name), never here. position orders the failover chain.
create table notification_channels (
  id bigint generated always as identity primary key,
  name text not null unique,
  kind text not null check (kind in ('email', 'webhook')),
  target text not null,
  preset text check (preset in ('slack', 'teams', 'generic')),
  secret_name text,
  enabled boolean not null default true,
  position integer not null,
  created_at timestamptz not null default now(),
  check ((kind = 'webhook') = (preset is not null)),
  check (kind = 'webhook' or secret_name is null)
);

-- One row per notification; the idempotency key makes enqueueing it twice a
-- no-op and travels in every message, so a redelivery after a crash can be told apart.
-- channels is the chain (channel ids, in order); channel_index the one being tried.
create table notification_outbox (
  id bigint generated always as identity primary key,
  idempotency_key text not null unique,
  kind text not null,
  payload jsonb not null,
  channels bigint[] not null,
  channel_index integer not null default 0,
  channel_failures integer not null default 0,
  attempts integer not null default 0,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  next_attempt_at timestamptz not null,
  deadline timestamptz not null,
  last_error text,
  delivered_channel_id bigint references notification_channels (id) on delete set null,
  created_at timestamptz not null default now(),
  finished_at timestamptz
);
create index notification_outbox_due on notification_outbox (next_attempt_at) where status = 'pending';

-- One row per delivery attempt; error is a message without secrets.
create table notification_deliveries (
  id bigint generated always as identity primary key,
  notification_id bigint not null references notification_outbox (id) on delete cascade,
  channel_id bigint references notification_channels (id) on delete set null,
  channel_name text not null,
  attempt integer not null,
  outcome text not null check (outcome in ('delivered', 'failed')),
  error text,
  duration_ms integer not null,
  at timestamptz not null default now()
);
create index notification_deliveries_notification on notification_deliveries (notification_id);
