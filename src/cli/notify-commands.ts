import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { readNamedVariable } from '../core/env.ts';
import type { z } from 'zod';
import type { notificationViewSchema } from '../api/contracts/notifications.ts';
import type { NotificationStatus } from '../notifications/outbox.ts';
import { numberArg } from './args.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/**
 * `steward notify channel add|list|remove`, `notify test <channel>`, `notify
 * log`. Thin over the API. A webhook's signing secret is read from the
 * environment variable --secret-env names, never from the command line.
 */
export interface NotifyCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

function showNotification(n: z.output<typeof notificationViewSchema>): void {
  process.stdout.write(
    `notification ${n.id} (${n.kind}) ${n.status} after ${n.attempts} attempt(s), key ${n.key}\n` +
      `  subject: ${n.subject}\n${n.lastError ? `  last error: ${n.lastError}\n` : ''}`,
  );
  for (const d of n.deliveries) {
    process.stdout.write(
      `  attempt ${d.attempt} via ${d.channel}: ${d.outcome} in ${d.durationMs} ms${d.error ? ` (${d.error})` : ''}\n`,
    );
  }
}

export function notifyCommands(program: Command, cli: NotifyCliContext): void {
  const { client, json } = cli;
  const notify = program
    .command('notify')
    .description('notifications: channels, test sends and the delivery log');
  const channel = notify.command('channel').description('where notifications go, in failover order');
  channel
    .command('add <kind> <target>')
    .description('add an email address or a webhook URL at the end of the failover chain')
    .option('--name <name>', 'channel name (default: the address, or <preset>-<host>)')
    .option('--preset <preset>', 'webhook body: slack, teams or generic (default generic)')
    .option(
      '--secret-env <NAME>',
      'sign webhooks with HMAC-SHA256 using the secret in this environment variable',
    )
    .action(
      async (kind: string, target: string, o: { name?: string; preset?: string; secretEnv?: string }) => {
        let secret: string | undefined;
        if (o.secretEnv !== undefined) {
          secret = readNamedVariable(o.secretEnv);
          if (secret === undefined) {
            throw new InvalidArgumentError(
              `--secret-env ${o.secretEnv}: that environment variable is not set or empty`,
            );
          }
        }
        const added = await client().api.post('/api/v1/notification-channels', {
          body: {
            kind,
            target,
            ...(o.name !== undefined ? { name: o.name } : {}),
            ...(o.preset !== undefined ? { preset: o.preset } : {}),
            ...(secret !== undefined ? { secret } : {}),
          },
        });
        if (json()) return printJson(added);
        process.stdout.write(
          `channel ${added.name} added (${added.kind} ${added.target}${added.preset ? `, ${added.preset}` : ''}${added.signed ? ', signed' : ''}), position ${added.position}\n`,
        );
      },
    );
  channel
    .command('list')
    .description('notification channels in failover order')
    .action(async () => {
      const channels = await client().api.all('/api/v1/notification-channels');
      if (json()) return printJson(channels);
      printTable(
        ['position', 'name', 'kind', 'target', 'preset', 'signed', 'enabled'],
        channels.map((c) => [c.position, c.name, c.kind, c.target, c.preset, c.signed, c.enabled]),
      );
    });
  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    channel
      .command(`${verb} <channel>`)
      .description(
        enabled ? 'put a channel back in the default route' : 'leave a channel out of the default route',
      )
      .action(async (name: string) => {
        const changed = await client().api.patch('/api/v1/notification-channels/{channel}', {
          params: { channel: name },
          body: { enabled },
        });
        if (json()) return printJson(changed);
        process.stdout.write(`channel ${changed.name} ${enabled ? 'enabled' : 'disabled'}\n`);
      });
  }
  channel
    .command('remove <channel>')
    .description('remove a channel (and its signing secret)')
    .action(async (name: string) => {
      const removed = await client().api.delete('/api/v1/notification-channels/{channel}', {
        params: { channel: name },
      });
      if (json()) return printJson(removed);
      process.stdout.write(`channel ${removed.name} removed\n`);
    });
  notify
    .command('test <channel>')
    .description('send a test notification through one channel now and show its delivery')
    .action(async (name: string) => {
      const sent = await client().api.post('/api/v1/notification-channels/{channel}/test', {
        params: { channel: name },
      });
      if (json()) return printJson(sent);
      showNotification(sent);
    });
  notify
    .command('log')
    .description('the delivery log: notifications, newest first, with every attempt')
    .option('--status <status>', 'only pending, delivered or failed ones')
    .option('--limit <n>', 'at most this many (default 50)')
    .action(async (o: { status?: string; limit?: string }) => {
      const { notifications } = await client().api.get('/api/v1/notifications', {
        // The API names the statuses it accepts.
        query: {
          status: o.status as NotificationStatus | undefined,
          ...(o.limit ? { limit: numberArg(o.limit) } : {}),
        },
      });
      if (json()) return printJson(notifications);
      printTable(
        ['id', 'status', 'attempts', 'kind', 'created', 'subject', 'last error'],
        notifications.map((n) => [n.id, n.status, n.attempts, n.kind, n.createdAt, n.subject, n.lastError]),
      );
    });
}
