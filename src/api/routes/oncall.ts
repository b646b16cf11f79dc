import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { linkPath, type LinkPage } from '../../oncall/index.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, sendListPage } from '../pagination.ts';

const name = z.string().min(1).max(100);
const scheduleParams = z.object({ name }).strict();
const atQuery = z.object({ at: z.string().min(1).max(100).optional() }).strict();
const byName = pageQuery({ sorts: ['name'] });
const byUsername = pageQuery({ sorts: ['username'] });
const scheduleBody = z
  .object({
    name,
    rotation: z.string().min(1).max(20),
    /** An IANA time zone, such as Europe/Berlin. */
    tz: z.string().min(1).max(100),
    /** HH:MM local time (default 09:00); weekly rotations hand off on Mondays. */
    handoff: z.string().min(1).max(10).optional(),
    /** Operator usernames, in rotation order. */
    members: z.array(z.string().min(1).max(100)).min(1).max(100),
  })
  .strict();
const overrideBody = z
  .object({
    member: z.string().min(1).max(100),
    /** ISO 8601 with a zone: 2026-12-24T18:00+01:00. */
    from: z.string().min(1).max(40),
    until: z.string().min(1).max(40),
  })
  .strict();
const policyBody = z
  .object({
    /** Such as "notify schedule ops", "after 15m notify owners". */
    steps: z.array(z.string().min(1).max(300)).min(1).max(20),
    /** Rounds after the first (default 0). */
    repeat: z.number().int().optional(),
  })
  .strict();
const tokenQuery = z.object({ token: z.string().max(2000).optional() }).strict();

function sendPage(reply: FastifyReply, page: LinkPage): FastifyReply {
  return (
    reply
      .code(page.status)
      .type('text/html; charset=utf-8')
      // The token is in the URL: no referrer carries it off, no cache keeps the page.
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
      .header(
        'content-security-policy',
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
      )
      .header('x-frame-options', 'DENY')
      .send(page.html)
  );
}

export function oncallRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const { oncall } = services;
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/oncall/schedules',
    summary: 'On-call schedules, each with who is on call now',
    tags: ['oncall'],
    permission: 'tenants.read',
    query: byName,
    handler: async ({ query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await oncall.listSchedules(),
        (s) => ({ key: s.name, id: s.name }),
        (items) => ({ schedules: items }),
      ),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/oncall/schedules',
    summary: 'Add a daily or weekly rotation of operators, handing off at a local time in a time zone',
    tags: ['oncall'],
    permission: 'notifications.write',
    body: scheduleBody,
    status: 201,
    handler: ({ body, principal }) =>
      oncall.addSchedule(
        {
          name: body.name,
          rotation: body.rotation,
          timeZone: body.tz,
          handoff: body.handoff,
          members: body.members,
        },
        principal,
      ),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/oncall/schedules/:name',
    summary: 'A schedule: who is on call (now or at ?at=), the next shifts and the overrides',
    tags: ['oncall'],
    permission: 'tenants.read',
    params: scheduleParams,
    query: atQuery,
    handler: ({ params, query }) => oncall.showSchedule(params.name, query.at),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/oncall/schedules/:name/overrides',
    summary: 'Let an operator cover a schedule from..until',
    tags: ['oncall'],
    permission: 'notifications.write',
    params: scheduleParams,
    body: overrideBody,
    status: 201,
    handler: ({ params, body, principal }) => oncall.addOverride(params.name, body, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/oncall/who',
    summary: 'Who is on call now (or at ?at=), per schedule (or only ?schedule=)',
    tags: ['oncall'],
    permission: 'tenants.read',
    query: z.object({ schedule: name.optional(), at: z.string().min(1).max(100).optional() }).strict(),
    handler: async ({ query }) => ({ onCall: await oncall.who(query.schedule, query.at) }),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/oncall/contacts',
    summary: 'Operators and the email address they are paged at',
    tags: ['oncall'],
    permission: 'tenants.read',
    query: byUsername,
    handler: async ({ query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await oncall.contacts(),
        (c) => ({ key: c.username, id: c.username }),
        (items) => ({ contacts: items }),
      ),
  });
  route(app, auth, {
    method: 'PUT',
    url: '/api/v1/oncall/contacts/:operator',
    summary: 'Set the email address an operator is paged at',
    tags: ['oncall'],
    permission: 'notifications.write',
    params: z.object({ operator: name }).strict(),
    body: z.object({ email: z.string().min(1).max(320) }).strict(),
    handler: ({ params, body, principal }) => oncall.setContact(params.operator, body.email, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/oncall/escalation-policies',
    summary: 'Escalation policies (alerts use the one named default)',
    tags: ['oncall'],
    permission: 'tenants.read',
    query: byName,
    handler: async ({ query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await oncall.listPolicies(),
        (p) => ({ key: p.name, id: p.name }),
        (items) => ({ policies: items }),
      ),
  });
  route(app, auth, {
    method: 'PUT',
    url: '/api/v1/oncall/escalation-policies/:name',
    summary: 'Set an escalation policy: steps paged one after another until acknowledged, then repeated',
    tags: ['oncall'],
    permission: 'notifications.write',
    params: scheduleParams,
    body: policyBody,
    handler: ({ params, body, principal }) =>
      oncall.setPolicy({ name: params.name, steps: body.steps, repeat: body.repeat }, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/oncall/pages/:alert',
    summary: 'What on-call paged for an alert: round, step, recipient, when',
    tags: ['oncall'],
    permission: 'tenants.read',
    params: z.object({ alert: z.string().min(1).max(40) }).strict(),
    handler: async ({ params }) => ({ pages: await oncall.pages(params.alert) }),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/oncall/report',
    summary: 'Reaction times of a month: to first notification, acknowledgement, resolution; the target met',
    tags: ['oncall'],
    permission: 'tenants.read',
    query: z.object({ month: z.string().min(1).max(20) }).strict(),
    handler: ({ query }) => oncall.report(query.month),
  });
  // The signed links of page emails: HTML for a person with a mail client, no token needed but the link's own.
  void app.register((links, _options, registered) => {
    // A confirmation form posts an empty urlencoded body; nothing in it is read.
    links.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 4096 },
      (_request, _body, done) => done(null, {}),
    );
    const token = (query: unknown): string => tokenQuery.safeParse(query).data?.token ?? '';
    links.get(linkPath, { schema: { hide: true } }, async (request, reply) =>
      sendPage(reply, await oncall.links.show(token(request.query))),
    );
    links.post(linkPath, { schema: { hide: true } }, async (request, reply) =>
      sendPage(reply, await oncall.links.act(token(request.query), request.ip)),
    );
    registered();
  });
}
