-- The public status page (issue 11 part 6). Writes: src/status/store.ts.

-- A tenant's private status page: reached at https://status.<baseDomain>/t/<token>.
-- Only the SHA-256 of the token is kept: a leaked database row does not open the page.
-- Kept by slug, not by reference: a removed tenant's link simply finds no tenant.
create table status_links (
  tenant_slug text primary key,
  token_sha256 bytea not null unique check (length(token_sha256) = 32),
  -- Which stages the page shows, in this order after prod (default: prod only).
  public_stages text[] not null default '{prod}',
  created_at timestamptz not null,
  rotated_at timestamptz not null
);
