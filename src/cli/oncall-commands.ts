import type { Command } from 'commander';
import type { z } from 'zod';
import type {
  onCallViewSchema,
  reactionReportSchema,
  scheduleDetailSchema,
} from '../api/contracts/oncall.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/**
 * `steward oncall schedule|override|who|contact|escalation|report`: thin
 * over the API. Acknowledging and resolving are `steward alert ack|resolve`.
 */
export interface OnCallCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

type Stat = z.output<typeof reactionReportSchema>['toAcknowledgement'];

function showWho(rows: readonly z.output<typeof onCallViewSchema>[]): void {
  printTable(
    ['schedule', 'on call', 'from', 'until', 'override'],
    rows.map((r) => [r.schedule, r.member, r.from, r.until, r.override]),
  );
}

function showSchedule(s: z.output<typeof scheduleDetailSchema>): void {
  process.stdout.write(
    `schedule ${s.name}: ${s.rotation}, hand-off ${s.handoff} ${s.timeZone}${s.rotation === 'weekly' ? ' on Mondays' : ''}, members ${s.members.join(', ')}\n` +
      `at ${s.at}: ${s.onCall.member} is on call (until ${s.onCall.until}${s.onCall.override ? `, override ${s.onCall.override}` : ''})\n\nnext shifts:\n`,
  );
  printTable(
    ['member', 'from', 'until'],
    s.upcoming.map((u) => [u.member, u.from, u.until]),
  );
  if (s.overrides.length > 0) {
    process.stdout.write('\noverrides:\n');
    printTable(
      ['id', 'member', 'from', 'until'],
      s.overrides.map((o) => [o.id, o.member, o.from, o.until]),
    );
  }
}

function duration(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${(seconds / 3600).toFixed(1)}h`;
}

export function oncallCommands(program: Command, cli: OnCallCliContext): void {
  const { client, json } = cli;
  const oncall = program
    .command('oncall')
    .description('on-call: schedules, overrides, contacts, escalation policies, reaction times');
  const schedule = oncall.command('schedule').description('rotations of operators');
  schedule
    .command('add <name>')
    .description('add a daily or weekly rotation (weekly ones hand off on Mondays)')
    .requiredOption('--rotation <rotation>', 'daily or weekly')
    .requiredOption('--tz <zone>', 'IANA time zone of the hand-off, such as Europe/Berlin')
    .requiredOption('--members <names>', 'operator usernames in rotation order, comma-separated')
    .option('--handoff <HH:MM>', 'local time of the hand-off (default 09:00)')
    .action(async (name: string, o: { rotation: string; tz: string; members: string; handoff?: string }) => {
      const added = await client().api.post('/api/v1/oncall/schedules', {
        body: {
          name,
          rotation: o.rotation,
          tz: o.tz,
          members: o.members.split(',').map((m) => m.trim()),
          ...(o.handoff !== undefined ? { handoff: o.handoff } : {}),
        },
      });
      if (json()) return printJson(added);
      process.stdout.write(
        `schedule ${added.name} added: ${added.rotation}, hand-off ${added.handoff} ${added.timeZone}; ${added.onCall.member} is on call until ${added.onCall.until}\n`,
      );
    });
  schedule
    .command('list')
    .description('schedules and who is on call now')
    .action(async () => {
      const schedules = await client().api.all('/api/v1/oncall/schedules');
      if (json()) return printJson(schedules);
      printTable(
        ['name', 'rotation', 'hand-off', 'time zone', 'members', 'on call', 'until'],
        schedules.map((s) => [
          s.name,
          s.rotation,
          s.handoff,
          s.timeZone,
          s.members.join(','),
          s.onCall.member,
          s.onCall.until,
        ]),
      );
    });
  schedule
    .command('show <name>')
    .description('who is on call, the next shifts and the overrides')
    .option('--at <instant>', 'as at this instant (ISO 8601 with a zone), not now')
    .action(async (name: string, o: { at?: string }) => {
      const s = await client().api.get('/api/v1/oncall/schedules/{name}', {
        params: { name },
        query: { at: o.at },
      });
      if (json()) return printJson(s);
      showSchedule(s);
    });
  oncall
    .command('override')
    .description('overrides: an operator covers a schedule for a while')
    .command('add <schedule>')
    .description('let --member cover the schedule from --from until --until')
    .requiredOption('--member <name>', 'the operator who covers')
    .requiredOption('--from <instant>', 'ISO 8601 with a zone, such as 2026-12-24T18:00+01:00')
    .requiredOption('--until <instant>', 'ISO 8601 with a zone')
    .action(async (name: string, o: { member: string; from: string; until: string }) => {
      const s = await client().api.post('/api/v1/oncall/schedules/{name}/overrides', {
        params: { name },
        body: { member: o.member, from: o.from, until: o.until },
      });
      if (json()) return printJson(s);
      showSchedule(s);
    });
  oncall
    .command('who [schedule]')
    .description('who is on call now, per schedule')
    .option('--at <instant>', 'at this instant (ISO 8601 with a zone)')
    .action(async (name: string | undefined, o: { at?: string }) => {
      const { onCall } = await client().api.get('/api/v1/oncall/who', {
        query: { schedule: name, at: o.at },
      });
      if (json()) return printJson(onCall);
      showWho(onCall);
    });
  const contact = oncall.command('contact').description('where operators are paged');
  contact
    .command('set <operator>')
    .description('set the email address an operator is paged at')
    .requiredOption('--email <address>', 'their email address')
    .action(async (operator: string, o: { email: string }) => {
      const set = await client().api.put('/api/v1/oncall/contacts/{operator}', {
        params: { operator },
        body: { email: o.email },
      });
      if (json()) return printJson(set);
      process.stdout.write(`${set.username} is paged at ${set.email ?? '-'}\n`);
    });
  contact
    .command('list')
    .description('operators and their contact')
    .action(async () => {
      const contacts = await client().api.all('/api/v1/oncall/contacts');
      if (json()) return printJson(contacts);
      printTable(
        ['operator', 'email'],
        contacts.map((c) => [c.username, c.email]),
      );
    });
  const escalation = oncall
    .command('escalation')
    .description('escalation policies: alerts use the one named default');
  escalation
    .command('set <name>')
    .description('set a policy: its steps page one after another until the alert is acknowledged')
    .requiredOption(
      '--step <step>',
      '"[after N s|m|h] notify schedule <name> | operators <a,b> | channel <name> | channels | owners" (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--repeat <n>', 'run the steps this many more times (default 0)')
    .action(async (name: string, o: { step: string[]; repeat?: string }) => {
      const repeat = o.repeat === undefined ? undefined : Number(o.repeat);
      const set = await client().api.put('/api/v1/oncall/escalation-policies/{name}', {
        params: { name },
        body: {
          steps: o.step,
          ...(repeat !== undefined ? { repeat: Number.isInteger(repeat) ? repeat : -1 } : {}),
        },
      });
      if (json()) return printJson(set);
      process.stdout.write(
        `escalation policy ${set.name}: ${set.steps.join('; ')}${set.repeat ? `; then ${set.repeat} more round(s)` : ''}\n`,
      );
    });
  escalation
    .command('list')
    .description('escalation policies')
    .action(async () => {
      const policies = await client().api.all('/api/v1/oncall/escalation-policies');
      if (json()) return printJson(policies);
      printTable(
        ['name', 'steps', 'repeat'],
        policies.map((p) => [p.name, p.steps.join('; '), p.repeat]),
      );
    });
  oncall
    .command('pages <alert>')
    .description('what on-call paged for an alert: round, step, recipient, when')
    .action(async (alert: string) => {
      const pages = await client().api.all('/api/v1/oncall/pages/{alert}', { params: { alert } });
      if (json()) return printJson(pages);
      printTable(
        ['round', 'step', 'recipient', 'paged at', 'notification'],
        pages.map((p) => [p.round + 1, p.step + 1, p.recipient, p.pagedAt, p.notificationId]),
      );
    });
  oncall
    .command('report')
    .description('reaction times of a month: to first notification, acknowledgement and resolution')
    .option('--month <YYYY-MM>', 'the month (UTC; default this month)', new Date().toISOString().slice(0, 7))
    .action(async (o: { month: string }) => {
      const r = await client().api.get('/api/v1/oncall/report', { query: { month: o.month } });
      if (json()) return printJson(r);
      process.stdout.write(
        `${r.month}: ${r.alerts} alert(s); acknowledged within ${duration(r.targetSeconds)}: ${r.metTarget}, missed: ${r.missedTarget}\n\n`,
      );
      const row = (label: string, s: Stat): unknown[] => [
        label,
        s.count,
        duration(s.medianSeconds),
        duration(s.p90Seconds),
        duration(s.maxSeconds),
      ];
      printTable(
        ['time to', 'count', 'median', 'p90', 'max'],
        [
          row('first notification', r.toFirstNotification),
          row('acknowledgement', r.toAcknowledgement),
          row('resolution', r.toResolution),
        ],
      );
    });
}
