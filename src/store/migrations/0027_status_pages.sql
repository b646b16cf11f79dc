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

-- Email subscribers of a status page (double opt-in). scope: '' the vendor's page, else a tenant's slug.
-- The confirmation link's random token is kept only as its SHA-256 and cleared when used (single
-- use). The unsubscribe token is kept as it is: every email carries it, and all it can do is unsubscribe.
create table status_subscribers (
  id bigint generated always as identity primary key,
  scope text not null,
  email text not null check (length(email) between 3 and 254),
  -- https://<status host>[:port] as the subscriber reached it: where the links in emails point.
  base_url text not null,
  requested_at timestamptz not null,
  confirm_sha256 bytea unique,
  confirmed_at timestamptz,
  unsubscribe_token text not null unique,
  unsubscribed_at timestamptz,
  unique (scope, email)
);

-- Subscription requests per email address, for the rate limit.
create table status_subscription_requests (
  email text not null,
  at timestamptz not null
);
create index status_subscription_requests_email on status_subscription_requests (email, at);
