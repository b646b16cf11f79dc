-- MFA required per tenant or stage (issue 13 follow-up): when required, a
-- local user without a second factor enrols TOTP at sign-in before any
-- session opens. Null takes the tenant's value, then the default (optional).
alter table identity_settings
  add column mfa text check (mfa in ('required', 'optional'));
