-- On-call (issue 10 part 5): schedules, overrides, contacts, escalation
-- policies, the alerts being escalated with what was paged, and the single
-- uses of signed links. Writes: src/oncall/store.ts only (the outbox's
-- recipient column: src/notifications/outbox.ts).

-- Where an operator is told when paged.
create table oncall_contacts (
  operator_id bigint primary key references operators (id) on delete cascade,
  email text not null,
  updated_at timestamptz not null default now()
);

-- A rotation: members (operator usernames) take turns, handing off at a
-- local time of day in time_zone, daily or on Mondays. start_day is the local
-- day (days since 1970-01-01) whose shift the first member took.
create table oncall_schedules (
  id bigint generated always as identity primary key,
  name text not null unique,
  rotation text not null check (rotation in ('daily', 'weekly')),
  time_zone text not null,
  handoff_minute integer not null check (handoff_minute between 0 and 1439),
  members text[] not null check (cardinality(members) between 1 and 100),
  start_day integer not null,
  created_by text not null,
  created_at timestamptz not null default now()
);

-- member covers the schedule from starts_at until ends_at; the newest wins.
create table oncall_overrides (
  id bigint generated always as identity primary key,
  schedule_id bigint not null references oncall_schedules (id) on delete cascade,
  member text not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null check (ends_at > starts_at),
  created_by text not null,
  created_at timestamptz not null default now()
);
create index oncall_overrides_schedule on oncall_overrides (schedule_id, ends_at);

-- steps: src/oncall/escalation.ts's Step[]; repeat: rounds after the first.
create table oncall_escalation_policies (
  name text primary key,
  steps jsonb not null,
  repeat integer not null check (repeat between 0 and 10),
  updated_by text not null,
  updated_at timestamptz not null default now()
);

-- One row per alert on-call was told of: the policy as it was when the alert
-- fired (a later change does not renumber its steps), and when its next page
-- is due. stopped: acknowledged, resolved or every step paged.
create table oncall_escalations (
  alert_id text primary key,
  fired_at timestamptz not null,
  policy jsonb not null,
  status text not null default 'escalating' check (status in ('escalating', 'stopped')),
  next_at timestamptz,
  reason text,
  created_at timestamptz not null default now()
);
create index oncall_escalations_due on oncall_escalations (next_at) where status = 'escalating';

-- What was paged: one row per recipient of a step of a round, written in the
-- transaction that enqueues its notification (whose key names the same four).
create table oncall_pages (
  id bigint generated always as identity primary key,
  alert_id text not null references oncall_escalations (alert_id) on delete cascade,
  round integer not null,
  step integer not null,
  -- operator:<username>, channel:<name>, or channels (the default route).
  recipient text not null,
  notification_id bigint references notification_outbox (id) on delete set null,
  paged_at timestamptz not null,
  unique (alert_id, round, step, recipient)
);

-- A signed link acts once: its nonce is kept here when it is used.
create table oncall_link_uses (
  nonce text primary key,
  alert_id text not null,
  action text not null check (action in ('acknowledge', 'resolve')),
  recipient text not null,
  used_at timestamptz not null default now()
);

-- A page to one person: their own address first, then the channels.
alter table notification_outbox add column recipient text;
