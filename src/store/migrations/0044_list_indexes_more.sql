-- Keyset pagination of the lists that were paged in memory before (releases, deployments,
-- API tokens, exports, drills): each sort a list offers has an index on (its filter, sort
-- column, id), so a page reads its rows in order and stops (0043 did the same for tenants,
-- alerts, incidents and the audit log). Deployments page by id within the tenant's stages
-- (deployments_stage serves them) and tokens by id (the primary key).
create index releases_by_app on releases (app, id);
create index releases_by_created on releases (created_at, id);
create index api_tokens_by_name on api_tokens (name, id);
create index api_tokens_by_operator on api_tokens (operator_id, id);
drop index logical_exports_stage;
create index logical_exports_by_stage on logical_exports (tenant_slug, stage_name, created_at, id);
create index logical_exports_by_tenant on logical_exports (tenant_slug, created_at, id);
drop index drills_by_tenant;
drop index drills_by_time;
create index drills_by_tenant on drills (tenant_slug, started_at, id);
create index drills_by_time on drills (started_at, id);
