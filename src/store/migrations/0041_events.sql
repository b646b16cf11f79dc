-- Live updates for consoles (src/events/): every change to a row a console shows
-- is one NOTIFY on steward_events, {"topic", "op", "tenant", "id"}: the topic
-- (events/topics.ts), insert/update/delete, the tenant's slug (null for what
-- belongs to no tenant) and the row's key as the API names it. No row data
-- travels: consoles refetch through the API, which enforces roles. Each
-- Steward process LISTENs once and fans out to its consoles, so a change made
-- through any node reaches the consoles of every node. Row-level, so that an
-- event names its row; PostgreSQL folds identical notifications of one
-- transaction, and the hub coalesces bursts. Updates that change nothing, and
-- updates of bookkeeping columns (last use of a token, a check's probe times,
-- a node's heartbeat), notify nobody.
--
-- Arguments: the topic; how the row names its tenant (slug: the row is the
-- tenant; tenant_slug, tenant: a slug column; tenant_id, stage_id, check_id,
-- incident_id, operator_id, group_id: looked up; none); the key column.

create function steward_notify_change() returns trigger
language plpgsql
set search_path = pg_catalog, public
as $$
declare
  r jsonb := to_jsonb(case when tg_op = 'DELETE' then old else new end);
  via text := tg_argv[1];
  tenant text;
begin
  tenant := case via
    when 'slug' then r ->> 'slug'
    when 'tenant_slug' then r ->> 'tenant_slug'
    when 'tenant' then r ->> 'tenant'
    when 'tenant_id' then (select t.slug from tenants t where t.id = (r ->> 'tenant_id')::bigint)
    when 'stage_id' then (
      select t.slug from stages s join tenants t on t.id = s.tenant_id where s.id = (r ->> 'stage_id')::bigint)
    when 'check_id' then (select c.tenant_slug from checks c where c.id = (r ->> 'check_id')::bigint)
    when 'incident_id' then (select i.tenant_slug from incidents i where i.id = (r ->> 'incident_id')::bigint)
    when 'operator_id' then (
      select t.slug from operators o join tenants t on t.id = o.tenant_id where o.id = (r ->> 'operator_id')::bigint)
    when 'group_id' then (
      select t.slug from tenant_groups g join tenants t on t.id = g.tenant_id where g.id = (r ->> 'group_id')::uuid)
    else null
  end;
  perform pg_notify('steward_events', json_build_object(
    'topic', tg_argv[0], 'op', lower(tg_op), 'tenant', tenant, 'id', r ->> tg_argv[2])::text);
  return null;
end
$$;

do $$
declare
  t record;
begin
  for t in
    select * from (values
      -- table, topic, tenant via, key, the columns whose update is news (null: any)
      ('tenants', 'tenants', 'slug', 'slug', null),
      ('stages', 'stages', 'tenant_id', 'name', null),
      ('releases', 'releases', 'none', 'version', null),
      ('deployments', 'deployments', 'stage_id', 'id', null),
      ('backup_runs', 'backups', 'none', 'id', null),
      ('backup_requests', 'backups', 'tenant_slug', 'id', null),
      ('backup_policies', 'backups', 'tenant_id', 'tenant_id', null),
      ('restores', 'restores', 'tenant_slug', 'id', null),
      ('restore_tests', 'restore-tests', 'tenant_slug', 'id', null),
      ('logical_exports', 'exports', 'tenant_id', 'id', null),
      ('checks', 'checks', 'tenant_slug', 'id', 'scope, spec, interval_seconds, timeout_ms, enabled, removed_at'),
      ('check_states', 'checks', 'check_id', 'check_id', null),
      ('alerts', 'alerts', 'tenant_slug', 'id', null),
      ('alert_silences', 'silences', 'none', 'id', null),
      ('heal_attempts', 'healing', 'tenant_slug', 'id', null),
      ('incidents', 'incidents', 'tenant_slug', 'id', null),
      ('incident_updates', 'incidents', 'incident_id', 'incident_id', null),
      ('maintenance_windows', 'maintenance', 'tenant_slug', 'id', null),
      ('sla_policies', 'sla-policies', 'tenant_slug', 'id', null),
      ('sla_reports', 'sla-reports', 'tenant_slug', 'id', null),
      ('oncall_schedules', 'oncall', 'none', 'name', null),
      ('oncall_overrides', 'oncall', 'none', 'schedule_id', null),
      ('oncall_escalation_policies', 'oncall', 'none', 'name', null),
      ('oncall_contacts', 'oncall', 'none', 'operator_id', null),
      ('operators', 'operators', 'tenant_id', 'username', 'username, role, must_change_password, totp_enabled, tenant_id'),
      ('tenant_admin_invitations', 'operators', 'operator_id', 'operator_id', null),
      ('api_tokens', 'tokens', 'operator_id', 'id', 'name, role, expires_at, revoked_at'),
      ('tenant_users', 'users', 'tenant_id', 'id',
        'user_name, external_id, email, display_name, given_name, family_name, active, attributes'),
      ('identity_links', 'users', 'tenant_id', 'user_id', null),
      ('tenant_groups', 'groups', 'tenant_id', 'id', null),
      ('tenant_group_members', 'groups', 'group_id', 'group_id', null),
      ('scim_tokens', 'scim-tokens', 'tenant_id', 'id', 'name, expires_at, revoked_at'),
      ('identity_settings', 'identity', 'tenant_id', 'stage', null),
      ('oidc_connections', 'identity', 'tenant_id', 'name', null),
      ('ldap_directories', 'identity', 'tenant_id', 'tenant_id', null),
      ('ldap_sync_runs', 'identity', 'tenant_id', 'id', null),
      ('role_mappings', 'identity', 'tenant_id', 'id', null),
      ('login_events', 'logins', 'tenant_id', 'id', null),
      ('break_glass_grants', 'break-glass', 'tenant_id', 'id', null),
      ('drills', 'drills', 'tenant_slug', 'id', null),
      ('nodes', 'nodes', 'none', 'name', 'incarnation, host, pid, api_url, started_at, stopped_at'),
      ('audit_events', 'audit', 'tenant', 'seq', null)
    ) as v (tbl, topic, via, key, columns)
  loop
    execute format(
      'create trigger %I after insert or delete on %I for each row execute function steward_notify_change(%L, %L, %L)',
      t.tbl || '_events', t.tbl, t.topic, t.via, t.key);
    execute format(
      'create trigger %I after update %s on %I for each row when (old.* is distinct from new.*) '
        'execute function steward_notify_change(%L, %L, %L)',
      t.tbl || '_events_update', coalesce('of ' || t.columns, ''), t.tbl, t.topic, t.via, t.key);
  end loop;
end
$$;
