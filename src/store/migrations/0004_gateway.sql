-- Gateway: custom domains per stage, per-stage access (allow list, maintenance),
-- operator-installed certificates, and one NOTIFY for every gateway process
-- whenever anything that decides a route or a certificate changes.

create table stage_domains (
  domain text primary key check (domain = lower(domain)),
  stage_id bigint not null references stages (id) on delete cascade,
  created_at timestamptz not null default now()
);
create index stage_domains_stage on stage_domains (stage_id);

alter table stages add column allow_from text[];
alter table stages add column maintenance boolean not null default false;

create table tls_certificates (
  domain text primary key check (domain = lower(domain)),
  cert_pem text not null,
  -- The private key's name in the secrets store: never stored here in the clear.
  key_secret text not null,
  not_after timestamptz not null,
  updated_at timestamptz not null default now()
);

-- Statement-level, so a bulk change is one notification; every writer is caught,
-- not only the services. Updates of stages fire only for the columns a route reads
-- (phases change often and decide nothing here).
create function steward_notify_routes() returns trigger language plpgsql as $$
begin
  perform pg_notify('steward_routes', tg_table_name);
  return null;
end
$$;

create trigger stages_routes after insert or delete or truncate on stages
  for each statement execute function steward_notify_routes();
create trigger stages_routes_update
  after update of name, desired, tenant_id, published_port, allow_from, maintenance on stages
  for each statement execute function steward_notify_routes();
create trigger tenants_routes after insert or delete or truncate on tenants
  for each statement execute function steward_notify_routes();
create trigger tenants_routes_update after update of slug, desired on tenants
  for each statement execute function steward_notify_routes();
create trigger stage_domains_routes after insert or update or delete or truncate on stage_domains
  for each statement execute function steward_notify_routes();
create trigger tls_certificates_routes after insert or update or delete or truncate on tls_certificates
  for each statement execute function steward_notify_routes();
