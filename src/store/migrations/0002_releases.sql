-- Releases: immutable, versioned artifacts of the app with the definition they
-- carry; deployments: which release a stage runs, ran, or tried to run.

create table releases (id bigint generated always as identity primary key, app text not null, version text not null, checksum text not null, definition jsonb not null, path text not null, size_bytes bigint not null, created_at timestamptz not null default now(), unique (app, version));
create table deployments (id bigint generated always as identity primary key, stage_id bigint not null references stages (id) on delete cascade, release_id bigint not null references releases (id), status text not null check (status in ('pending','migrating','starting','active','superseded','failed','rolled-back')), reason text not null default '', actor text not null, created_at timestamptz not null default now(), finished_at timestamptz);
