-- The audit chain moves into the database (issue 9 part 5). A BEFORE INSERT
-- trigger owned by steward_audit, not by the app, numbers each event and
-- computes its hash, so no client can pick a hash or a place in the chain;
-- the app adds a MAC made with a key derived from the master key, which the
-- database never sees (src/audit/integrity.ts). Events before this migration
-- keep their app-computed hashes and have no MAC: verify reports them as
-- legacy, unauthenticated, and the first signed checkpoint anchors them.
--
-- Hash of a new event (hex): sha256(prev_hash \n seq \n body \n mac_key \n mac),
-- where body is the canonical JSON of the event's content (src/audit/chain.ts),
-- which never holds a newline, so the parts cannot be shifted into each other.

create schema audit;

-- The newest event: its seq and hash. One row; appenders lock it, which also
-- serialises them. legacy_seq: the last event written before this migration.
create table audit.head (
  one boolean primary key default true check (one),
  seq bigint not null,
  hash text not null,
  legacy_seq bigint not null
);

insert into audit.head (seq, hash, legacy_seq)
select coalesce(last.seq, 0), coalesce(last.hash, repeat('0', 64)), coalesce(last.seq, 0)
from (select 1) as one
left join (select seq, hash from audit_events order by seq desc limit 1) as last on true;

alter table audit_events
  alter column seq drop identity if exists,
  add column body text,
  add column mac_key text,
  add column mac text;

-- Locks the head for the rest of the transaction and says where the next event goes.
create function audit.reserve(out seq bigint, out prev_hash text)
language sql security definer set search_path = pg_catalog, pg_temp
as $$
  select h.seq + 1, h.hash from audit.head h for update
$$;

create function audit.chain() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  head record;
begin
  select h.seq, h.hash into strict head from audit.head h for update;
  if new.seq is distinct from head.seq + 1 or new.prev_hash is distinct from head.hash then
    raise exception 'audit event % (prev_hash %) does not continue the chain: the next event is % after %; call audit.reserve() in the same transaction first',
      new.seq, new.prev_hash, head.seq + 1, head.hash
      using errcode = 'integrity_constraint_violation';
  end if;
  if new.body is null or new.mac_key is null or new.mac is null then
    raise exception 'audit event % has no body, mac_key or mac', new.seq
      using errcode = 'not_null_violation';
  end if;
  new.hash := encode(sha256(convert_to(
    new.prev_hash || E'\n' || new.seq::text || E'\n' || new.body || E'\n' || new.mac_key || E'\n' || new.mac,
    'UTF8')), 'hex');
  update audit.head set seq = new.seq, hash = new.hash;
  return new;
end
$$;

-- Written once, never changed: even the table's owner must drop these triggers first.
create function audit.refuse_change() returns trigger
language plpgsql set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception 'audit events are append-only: % refused', tg_op
    using errcode = 'insufficient_privilege';
end
$$;

create trigger audit_events_chain before insert on audit_events
  for each row execute function audit.chain();
create trigger audit_events_append_only before update or delete on audit_events
  for each row execute function audit.refuse_change();
create trigger audit_events_no_truncate before truncate on audit_events
  for each statement execute function audit.refuse_change();

revoke all on function audit.reserve(), audit.chain(), audit.refuse_change() from public;

-- The trigger's owner holds nothing the app can reach: the app may only call
-- reserve() and read the head (migrate.ts grants both).
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'steward_audit') then
    alter schema audit owner to steward_audit;
    alter table audit.head owner to steward_audit;
    alter function audit.reserve() owner to steward_audit;
    alter function audit.chain() owner to steward_audit;
    alter function audit.refuse_change() owner to steward_audit;
  end if;
end
$$;
