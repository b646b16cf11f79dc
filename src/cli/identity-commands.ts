import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { z } from 'zod';
import type { identitySettingsViewSchema } from '../api/contracts/identity-settings.ts';
import type { ApiClient } from './client.ts';
import { parseOnOff } from './gateway-commands.ts';
import { printJson, printTable } from './output.ts';
import { oidcSetOptions, setOidcFrom, type OidcSetOptions } from './identity-oidc-commands.ts';

/**
 * `steward identity set|show`: a tenant's identity settings for its hosted
 * app (issue 13), tenant-wide or per stage. Thin over the API.
 */
export interface IdentityCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

const modes = ['required', 'optional', 'off'] as const;

function signInMode(value: string): (typeof modes)[number] {
  const mode = value.trim().toLowerCase();
  if ((modes as readonly string[]).includes(mode)) return mode as (typeof modes)[number];
  throw new InvalidArgumentError(`${JSON.stringify(value)} is not a sign-in mode: use ${modes.join(', ')}`);
}

const mfaModes = ['required', 'optional'] as const;

function mfaMode(value: string): (typeof mfaModes)[number] {
  const mode = value.trim().toLowerCase();
  if ((mfaModes as readonly string[]).includes(mode)) return mode as (typeof mfaModes)[number];
  throw new InvalidArgumentError(`${JSON.stringify(value)} is not an MFA mode: use ${mfaModes.join(', ')}`);
}

function wholeNumber(max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < 1 || n > max) {
      throw new InvalidArgumentError(
        `${JSON.stringify(value)} is not accepted: use a whole number from 1 to ${max}`,
      );
    }
    return n;
  };
}

const shown = (value: boolean | string | number | null, unit = ''): string =>
  value === null ? '-' : typeof value === 'boolean' ? (value ? 'on' : 'off') : `${value}${unit}`;

export function describeIdentity(view: z.output<typeof identitySettingsViewSchema>): string[][] {
  return view.stages.map((stage) => [
    stage.stage,
    stage.effective.signIn,
    shown(stage.effective.localUsers),
    shown(stage.effective.idleMinutes, ' min'),
    shown(stage.effective.absoluteHours, ' h'),
    stage.effective.mfa,
  ]);
}

export function identityCommands(program: Command, cli: IdentityCliContext): void {
  const { client, json } = cli;
  const identity = program
    .command('identity')
    .description("a tenant's sign-in for its hosted app: local users, sign-in mode, session timeouts");

  const set = identity
    .command('set')
    .description("set the tenant-wide settings, or with <stage> that stage's overrides")
    .argument('<tenant>', 'tenant slug')
    .argument('[stage]', 'a stage (default: the whole tenant)')
    .option('--local-users <on|off>', 'local users (passwords, MFA) may sign in', parseOnOff)
    .option(
      '--sign-in <mode>',
      'required | optional | off (default off: the app sees no sign-in)',
      signInMode,
    )
    .option(
      '--idle-minutes <n>',
      'a session ends after this long without a request (default 60)',
      wholeNumber(43_200),
    )
    .option(
      '--absolute-hours <n>',
      'a session ends this long after sign-in, whatever happens (default 12)',
      wholeNumber(8760),
    )
    .option(
      '--mfa <mode>',
      'required | optional (default optional): with required, local users enrol TOTP at sign-in',
      mfaMode,
    );
  oidcSetOptions(set);
  set.action(
    async (
      tenant: string,
      stage: string | undefined,
      o: {
        localUsers?: boolean;
        signIn?: (typeof modes)[number];
        idleMinutes?: number;
        absoluteHours?: number;
        mfa?: (typeof mfaModes)[number];
      } & OidcSetOptions,
    ) => {
      const connection = await setOidcFrom(client(), tenant, stage, o);
      const body = {
        ...(stage ? { stage } : {}),
        ...(o.localUsers !== undefined ? { localUsers: o.localUsers } : {}),
        ...(o.signIn !== undefined ? { signIn: o.signIn } : {}),
        ...(o.idleMinutes !== undefined ? { idleMinutes: o.idleMinutes } : {}),
        ...(o.absoluteHours !== undefined ? { absoluteHours: o.absoluteHours } : {}),
        ...(o.mfa !== undefined ? { mfa: o.mfa } : {}),
      };
      if (Object.keys(body).length === (stage ? 1 : 0) && connection) {
        if (json()) return printJson({ oidc: connection });
        return printTable(
          ['OIDC', 'KIND', 'ISSUER'],
          [[connection.name, connection.kind, connection.issuer]],
        );
      }
      if (Object.keys(body).length === (stage ? 1 : 0)) {
        throw new InvalidArgumentError(
          'give at least one of --local-users, --sign-in, --idle-minutes, --absolute-hours, --mfa, --oidc',
        );
      }
      const view = await client().api.patch('/api/v1/tenants/{tenant}/identity', {
        params: { tenant },
        body,
      });
      if (json()) return printJson(connection ? { ...view, oidc: connection } : view);
      printTable(['STAGE', 'SIGN-IN', 'LOCAL USERS', 'IDLE', 'ABSOLUTE', 'MFA'], describeIdentity(view));
      if (connection) {
        printTable(['OIDC', 'KIND', 'ISSUER'], [[connection.name, connection.kind, connection.issuer]]);
      }
    },
  );

  identity
    .command('show')
    .description("a tenant's identity settings: what applies to each stage")
    .argument('<tenant>', 'tenant slug')
    .action(async (tenant: string) => {
      const view = await client().api.get('/api/v1/tenants/{tenant}/identity', { params: { tenant } });
      if (json()) return printJson(view);
      printTable(['STAGE', 'SIGN-IN', 'LOCAL USERS', 'IDLE', 'ABSOLUTE', 'MFA'], describeIdentity(view));
    });
}
