import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import type { incidentDetailSchema, incidentViewSchema } from '../api/contracts/incidents.ts';
import { describeSeverities, severityRules } from '../incidents/index.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/** `steward incident …`: thin over the API, which checks every value and names what it accepts. */
export interface IncidentCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

type IncidentView = z.output<typeof incidentViewSchema>;

function place(i: IncidentView): string {
  return i.stage === null ? i.tenant : `${i.tenant}/${i.stage}`;
}

function deadlinesLine(i: IncidentView): string {
  return i.deadlines
    .map(
      (d) =>
        `${d.party} by ${d.due}: ${d.state}${d.notifiedAt ? ` (${d.notifiedAt}, ${d.notifiedWho ?? ''})` : ''}`,
    )
    .join('; ');
}

function showIncident(i: z.output<typeof incidentDetailSchema>): void {
  process.stdout.write(
    `incident ${i.id}: ${i.title}\n` +
      `${place(i)}, severity ${i.severity} ${i.severityName}, ${i.status}${i.closedAt ? `, closed ${i.closedAt} by ${i.closedBy ?? '?'}` : ''}\n` +
      `owner ${i.owner ?? '-'}, opened ${i.openedAt} by ${i.openedBy}${i.security ? ', security incident' : ''}\n` +
      (i.alerts.length ? `alerts ${i.alerts.map((a) => a.id).join(', ')}\n` : '') +
      (i.breachConfirmedAt ? `breach confirmed ${i.breachConfirmedAt}; ${deadlinesLine(i)}\n` : '') +
      `post-mortem: ${i.postmortemAt ? `${i.postmortemAt} by ${i.postmortemBy ?? '?'} (${i.postmortem?.impact.slaMinutes ?? '?'} SLA minutes)` : i.postmortemRequired ? 'required before closing' : 'none'}\n\n`,
  );
  printTable(
    ['at', 'what', 'by', 'public', 'text'],
    i.timeline.map((e) => [e.at, `${e.source}/${e.kind}`, e.by, e.public ? 'yes' : '', e.text]),
  );
}

export function incidentCommands(program: Command, { client, json }: IncidentCliContext): void {
  const incident = program
    .command('incident')
    .description('incidents: severity, status, owner, timeline, post-mortem, security notice deadlines');
  const done = async (answer: Promise<z.output<typeof incidentDetailSchema>>): Promise<void> => {
    const view = await answer;
    if (json()) return printJson(view);
    showIncident(view);
  };

  incident
    .command('open')
    .description('open an incident by hand or from an alert')
    .option('--tenant <slug>', "the tenant affected (default: the alert's)")
    .option('--stage <stage>', "the stage affected (default: the alert's)")
    .requiredOption('--severity <1-4>', 'see "steward incident severities"')
    .requiredOption('--title <text>', 'what is wrong, in a line')
    .option('--from-alert <id>', 'the alert it is opened from (linked, with its check and stage)')
    .option('--security', 'a security incident: a breach may be confirmed, with notice deadlines')
    .option('--owner <login>', 'who handles it')
    .option('--note <text>', 'a first note for the timeline')
    .action(
      async (o: {
        tenant?: string;
        stage?: string;
        severity: string;
        title: string;
        fromAlert?: string;
        security?: boolean;
        owner?: string;
        note?: string;
      }) => {
        await done(
          client().api.post('/api/v1/incidents', {
            body: {
              severity: /^\d+$/.test(o.severity) ? Number(o.severity) : o.severity,
              title: o.title,
              ...(o.tenant !== undefined ? { tenant: o.tenant } : {}),
              ...(o.stage !== undefined ? { stage: o.stage } : {}),
              ...(o.fromAlert !== undefined ? { fromAlert: o.fromAlert } : {}),
              ...(o.security ? { security: true } : {}),
              ...(o.owner !== undefined ? { owner: o.owner } : {}),
              ...(o.note !== undefined ? { note: o.note } : {}),
            },
          }),
        );
      },
    );

  incident
    .command('list')
    .description('incidents, newest first')
    .option('--open', 'only those not closed')
    .option('--tenant <slug>', 'one tenant only')
    .action(async (o: { open?: boolean; tenant?: string }) => {
      const incidents = await client().api.all('/api/v1/incidents', {
        query: { ...(o.open ? { open: 'true' as const } : {}), tenant: o.tenant },
      });
      if (json()) return printJson(incidents);
      printTable(
        ['id', 'sev', 'place', 'status', 'owner', 'opened', 'closed', 'title'],
        incidents.map((i) => [
          i.id,
          i.severity,
          place(i),
          i.status,
          i.owner,
          i.openedAt,
          i.closedAt,
          `${i.security ? '[security] ' : ''}${i.title}`,
        ]),
      );
    });

  incident
    .command('show <id>')
    .description('one incident with its timeline')
    .action(async (id: string) => {
      await done(client().api.get('/api/v1/incidents/{id}', { params: { id } }));
    });

  incident
    .command('update <id>')
    .description('a status change and/or a note; --public posts it on the status page')
    .option('--status <status>', 'investigating, identified, monitoring or resolved')
    .option('--severity <1-4>', 'a new severity')
    .requiredOption('--note <text>', 'what is known now')
    .option('--public', 'post this update on the status page')
    .action(async (id: string, o: { status?: string; severity?: string; note: string; public?: boolean }) => {
      await done(
        client().api.post('/api/v1/incidents/{id}/updates', {
          params: { id },
          body: {
            note: o.note,
            ...(o.status !== undefined ? { status: o.status } : {}),
            ...(o.severity !== undefined
              ? { severity: /^\d+$/.test(o.severity) ? Number(o.severity) : o.severity }
              : {}),
            ...(o.public ? { public: true } : {}),
          },
        }),
      );
    });

  incident
    .command('assign <id>')
    .description('give the incident an owner')
    .requiredOption('--owner <login>', 'who handles it')
    .action(async (id: string, o: { owner: string }) => {
      await done(
        client().api.post('/api/v1/incidents/{id}/owner', { params: { id }, body: { owner: o.owner } }),
      );
    });

  incident
    .command('link <id>')
    .description('link another alert to the incident')
    .requiredOption('--alert <id>', 'the alert')
    .action(async (id: string, o: { alert: string }) => {
      await done(
        client().api.post('/api/v1/incidents/{id}/alerts', { params: { id }, body: { alert: o.alert } }),
      );
    });

  incident
    .command('postmortem <id>')
    .description('give the post-mortem (YAML or JSON: cause, impact, actions, checks); "-" reads stdin')
    .requiredOption('--file <file>', 'the post-mortem file')
    .action(async (id: string, o: { file: string }) => {
      const document = o.file === '-' ? await readStdin() : await readFile(o.file, 'utf8');
      await done(
        client().api.put('/api/v1/incidents/{id}/postmortem', { params: { id }, body: { document } }),
      );
    });

  incident
    .command('close <id>')
    .description('close a resolved incident (severity 1-2 need a post-mortem)')
    .action(async (id: string) => {
      await done(client().api.post('/api/v1/incidents/{id}/close', { params: { id } }));
    });

  incident
    .command('confirm-breach <id>')
    .description("a security incident's breach is confirmed: the notice deadlines start")
    .option('--at <time>', 'when it was confirmed, with its zone (default now), e.g. 2026-12-06T14:30:00Z')
    .action(async (id: string, o: { at?: string }) => {
      await done(
        client().api.post('/api/v1/incidents/{id}/breach', {
          params: { id },
          body: o.at !== undefined ? { at: o.at } : {},
        }),
      );
    });

  incident
    .command('notified <id>')
    .description('record who told the affected customers or the supervisory authority, and when')
    .requiredOption('--party <party>', 'customers or authority')
    .requiredOption('--who <text>', 'who told them, and how')
    .option('--at <time>', 'when, with its zone (default now)')
    .action(async (id: string, o: { party: string; who: string; at?: string }) => {
      await done(
        client().api.post('/api/v1/incidents/{id}/notices', {
          params: { id },
          body: { party: o.party, who: o.who, ...(o.at !== undefined ? { at: o.at } : {}) },
        }),
      );
    });

  incident
    .command('terms <tenant>')
    .description("show or set the tenant's contract term for telling customers of a confirmed breach")
    .option('--customer-notice-hours <hours>', 'hours, e.g. 24')
    .action(async (tenant: string, o: { customerNoticeHours?: string }) => {
      const { api } = client();
      const params = { slug: tenant };
      const terms =
        o.customerNoticeHours === undefined
          ? await api.get('/api/v1/tenants/{slug}/incident-terms', { params })
          : await api.put('/api/v1/tenants/{slug}/incident-terms', {
              params,
              body: {
                customerNoticeHours: /^\d+(\.\d+)?$/.test(o.customerNoticeHours)
                  ? Number(o.customerNoticeHours)
                  : o.customerNoticeHours,
              },
            });
      if (json()) return printJson(terms);
      process.stdout.write(
        `${tenant}: customers within ${terms.customerNoticeHours} h, the supervisory authority within ${terms.authorityNoticeHours} h of a confirmed breach\n`,
      );
    });

  incident
    .command('severities')
    .description('the written rules that classify an incident as severity 1 to 4')
    .action(() => {
      if (json()) return printJson(severityRules);
      process.stdout.write(`${describeSeverities()}\n`);
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
