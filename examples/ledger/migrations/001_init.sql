-- Customers, invoices, their attachments, and the outbox the worker consumes.

create table customers (
  id bigint generated always as identity primary key,
  name text not null check (length(name) between 1 and 200),
  email text check (email is null or length(email) <= 254),
  created_by text not null,
  created_at timestamptz not null default now()
);

create sequence invoice_number_seq;

create table invoices (
  id bigint generated always as identity primary key,
  number text not null unique default ('INV-' || lpad(nextval('invoice_number_seq')::text, 6, '0')),
  customer_id bigint not null references customers (id),
  amount_cents bigint not null check (amount_cents >= 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  status text not null default 'draft' check (status in ('draft', 'sent', 'paid')),
  description text not null default '',
  created_by text not null,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  paid_at timestamptz,
  delivered_at timestamptz
);

create index invoices_customer_idx on invoices (customer_id);

create table invoice_attachments (
  id bigint generated always as identity primary key,
  invoice_id bigint not null references invoices (id),
  file_name text not null,
  stored_path text not null unique,
  size_bytes bigint not null check (size_bytes >= 0),
  sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  content_type text not null,
  created_by text not null,
  created_at timestamptz not null default now(),
  unique (invoice_id, file_name)
);

create table outbox (
  id bigint generated always as identity primary key,
  kind text not null,
  payload jsonb not null,
  attempts integer not null default 0,
  run_after timestamptz not null default now(),
  processed_at timestamptz,
  failed_at timestamptz,
  last_error text,
  created_at timestamptz not null default now()
);

-- The worker's queue: only pending events, oldest first.
create index outbox_pending_idx on outbox (run_after, id) where processed_at is null and failed_at is null;
