-- Accounts (issue 9 part 7): failed logins counted per account and client
-- address prefix together, token kinds, and a bounded lifetime for every
-- API token.

-- One row per account and address prefix (an IPv4 address, an IPv6 /64):
-- guesses lock the account for that prefix only. A prefix the account signed
-- in from (succeeded_at) stays open when many new prefixes guess at it.
create table operator_login_failures (
  operator_id bigint not null references operators (id) on delete cascade,
  address_prefix text not null,
  failures integer not null,
  window_start timestamptz not null,
  locked_until timestamptz,
  succeeded_at timestamptz,
  primary key (operator_id, address_prefix)
);

-- The one per-account counter and lock they replace.
alter table operators drop column failed_logins, drop column locked_until;

-- The throttle across accounts is keyed by address prefix too; its counters are transient.
truncate login_failures;
alter table login_failures rename column address to address_prefix;

-- session: from "steward login"; local: the machine's client.json token;
-- automation: "steward token create". Only the first two may change their
-- operator's account (password, MFA, tokens). Earlier tokens cannot be told
-- apart and count as automation: sign in again to change the account.
alter table api_tokens
  add column kind text not null default 'automation' check (kind in ('session', 'local', 'automation'));
update api_tokens set kind = 'local' where name = 'local-cli';
alter table api_tokens alter column kind drop default;

-- No token lives for ever any more: earlier ones get the default cap (identity.maxTokenLifetimeDays) from now.
update api_tokens set expires_at = now() + interval '90 days'
 where expires_at is null and kind <> 'local' and revoked_at is null;
