-- Self-healing (issue 10 part 6): every attempt of a heal action, as evidence
-- linked to the alert that asked for it. Written only by src/healing/store.ts.
-- Skips (healing off, rate limit, cool-down) are kept too, once per alert and
-- reason: they say why nothing was done. target is the key limits count by
-- (tenant/stage, or tenant/stage/process).
create table heal_attempts (
  id bigint generated always as identity primary key,
  alert_id text not null,
  action text not null check (action in ('restart-process', 'restart-stage', 'rerun-backup')),
  tenant_slug text,
  stage_name text,
  process text,
  target text not null,
  started_at timestamptz not null,
  finished_at timestamptz,
  outcome text not null check (outcome in (
    'running', 'succeeded', 'failed', 'interrupted', 'skipped-disabled', 'skipped-rate-limited',
    'skipped-cooling-down', 'skipped-in-progress', 'skipped-no-target')),
  detail text not null default '',
  check ((outcome = 'running') = (finished_at is null))
);
create index heal_attempts_alert on heal_attempts (alert_id, id);
create index heal_attempts_target on heal_attempts (action, target, started_at);
create index heal_attempts_tenant on heal_attempts (tenant_slug, started_at);

-- Scoped API tokens (issue 10 part 7): a token with a scope may call only
-- that scope's routes, whatever its role. 'alertmanager': only
-- POST /api/alerts/alertmanager, the token Alertmanager's config holds.
alter table api_tokens add column scope text check (scope in ('alertmanager'));
