-- Keyset pagination (src/store/keyset.ts): each list's sort orders by (sort column, id) and
-- continues after the previous page's last row, so each sort a list offers has an index on
-- exactly that pair (the primary keys serve the id and seq sorts).
create index tenants_by_slug on tenants (slug, id);
create index tenants_by_name on tenants (display_name, id);
create index tenants_by_created on tenants (created_at, id);
create index alerts_by_started on alerts (started_at, id);
create index incidents_by_opened on incidents (opened_at, id);
create index restore_tests_by_started on restore_tests (started_at, id);
create index tenant_users_by_user_name on tenant_users (tenant_id, user_name, id);
-- The audit log's filters, each with its order.
create index audit_events_actor on audit_events (actor, seq);
create index audit_events_action on audit_events (action, seq);
