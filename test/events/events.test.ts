import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/identity/credentials.ts';
import { EventHub, type EventHub as Hub } from '../../src/events/index.ts';
import { systemPrincipal } from '../../src/core/policy.ts';
import { silentLogger, startTestSteward, type TestSteward } from '../harness/steward.ts';
import { openEvents, type Frame, type SseClient } from './sse-client.ts';

/**
 * Live updates (issue 15, GET /api/v1/events) through one Steward over real
 * HTTP: changes written by the API and by the services reach an open stream
 * within a second, filtered by who reads it; keepalives; a killed LISTEN
 * session is replaced and streams are told to resync; a reader that stops
 * reading is cut off without holding up the others; a second process's hub
 * on the same control database (another node) hears the same changes.
 */
const suffix = Math.random().toString(36).slice(2, 7);
const tenantA = `ea${suffix}`;
const tenantB = `eb${suffix}`;
const adminEmail = `it-${suffix}@a.example`;

let t: TestSteward;
let url: string;
const streams: SseClient[] = [];

async function open(token = t.token, query = ''): Promise<SseClient> {
  const stream = await openEvents(`${url}/api/v1/events${query}`, token);
  streams.push(stream);
  return stream;
}

const isChange =
  (topic: string, tenant: string | null, id?: string) =>
  (f: Frame): boolean =>
    f.event === 'change' &&
    f.data.topic === topic &&
    f.data.tenant === tenant &&
    (id === undefined || f.data.id === id);

/** How long after `since` (performance.now()) the frame arrived. */
const within = (frame: Frame, since: number): number => frame.at - since;

/** An admin of tenant A with TOTP enrolled, through the services and the API, its invitation code read from the outbox. */
async function tenantAdmin(): Promise<string> {
  await t.services.tenantAdmins.invite(tenantA, { email: adminEmail }, systemPrincipal);
  const [mail] = await t.query<{ payload: { body: string } }>(
    "select payload from notification_outbox where kind = 'tenant-admin-invite' order by id desc limit 1",
    [],
    t.controlDatabase,
  );
  const code = /sti_[A-Za-z0-9_-]{43}/.exec(mail?.payload.body ?? '')?.[0];
  if (!code) throw new Error('no invitation code in the outbox');
  const accepted = await t.services.tenantAdmins.accept(code, `${adminEmail}-password`, '127.0.0.1');
  // Before its second factor, no stream (as with its tenant's routes).
  const early = await t.request('GET', '/api/v1/events', undefined, accepted.token);
  expect(early.status).toBe(403);
  expect(early.body.message).toMatch(/enrol MFA first/);
  const enrolled = await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, accepted.token);
  expect(enrolled.status, enrolled.text).toBe(200);
  const verified = await t.request(
    'POST',
    '/api/v1/auth/mfa/verify',
    { code: await totpCode(enrolled.body.secret as string, new Date()) },
    accepted.token,
  );
  expect(verified.status, verified.text).toBe(200);
  return accepted.token;
}

beforeAll(async () => {
  t = await startTestSteward({
    workers: false,
    config: { events: { keepaliveSeconds: 0.3, bufferBytes: 64 * 1024 } },
  });
  url = `http://127.0.0.1:${(t.api.server.address() as AddressInfo).port}`;
  for (const slug of [tenantA, tenantB]) {
    const created = await t.request('POST', '/api/v1/tenants', { slug, stages: ['test', 'prod'] });
    expect(created.status, created.text).toBe(201);
  }
});

afterAll(async () => {
  for (const stream of streams) stream.close();
  await t?.close();
});

describe('live updates', () => {
  it('brings a change to a tenant, a stage, an alert and an incident to an open console within a second', async () => {
    const reader = await open();
    expect(reader.status).toBe(200);
    expect(reader.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect((await reader.next((f) => f.event === 'retry')).retry).toBe(3000);
    const slug = `ec${suffix}`;

    let since = performance.now();
    expect((await t.request('POST', '/api/v1/tenants', { slug, stages: ['dev'] })).status).toBe(201);
    const tenant = await reader.next(isChange('tenants', slug, slug));
    expect(tenant.data).toEqual({ topic: 'tenants', op: 'insert', tenant: slug, id: slug });
    expect(within(tenant, since)).toBeLessThan(1000);
    expect((await reader.next(isChange('stages', slug, 'dev'))).data.op).toBe('insert');

    since = performance.now();
    await t.query(
      "update stages set phase = 'failed', reason = 'disk full' where name = 'dev' and tenant_id = (select id from tenants where slug = $1)",
      [slug],
      t.controlDatabase,
    );
    const stage = await reader.next((f) => isChange('stages', slug, 'dev')(f) && f.data.op === 'update');
    expect(within(stage, since)).toBeLessThan(1000);

    since = performance.now();
    const alert = await t.services.alerts.raise({
      source: 'watchdog',
      dedupKey: `events-${suffix}`,
      tenant: slug,
      severity: 'critical',
      summary: 'the disk is full',
    });
    expect(within(await reader.next(isChange('alerts', slug, alert.id)), since)).toBeLessThan(1000);
    since = performance.now();
    expect((await t.request('POST', `/api/v1/alerts/${alert.id}/ack`)).status).toBe(200);
    const acked = await reader.next((f) => isChange('alerts', slug, alert.id)(f) && f.data.op === 'update');
    expect(within(acked, since)).toBeLessThan(1000);

    since = performance.now();
    const incident = await t.request('POST', '/api/v1/incidents', {
      tenant: slug,
      severity: 2,
      title: 'Disk full',
    });
    expect(incident.status, incident.text).toBe(201);
    const opened = await reader.next(isChange('incidents', slug, String(incident.body.id)));
    expect(within(opened, since)).toBeLessThan(1000);
    // Keepalives on the open stream (0.3 s here, 15 s by default).
    await reader.next((f) => f.comment === 'keepalive', 2000);
    const metrics = await t.request('GET', '/metrics');
    expect(metrics.text).toMatch(/^steward_console_streams [1-9]/m);
    expect(metrics.text).toMatch(/^steward_console_events_total\{event="change"\} [1-9]/m);
    // Nothing of a row travels: four fields, always.
    for (const frame of reader.frames.filter((f) => f.event === 'change')) {
      expect(Object.keys(frame.data)).toEqual(['topic', 'op', 'tenant', 'id']);
    }
  });

  it("carries to a tenant admin only its own tenant's events, and to an operator everyone's", async () => {
    const token = await tenantAdmin();
    const admin = await open(token);
    expect(admin.status).toBe(200);
    const operator = await open(t.token, '?topics=tenants,incidents');
    for (const slug of [tenantB, tenantA]) {
      const changed = await t.request('POST', '/api/v1/incidents', {
        tenant: slug,
        severity: 3,
        title: 'Slow',
      });
      expect(changed.status, changed.text).toBe(201);
      await t.query(
        "update tenants set display_name = 'Renamed ' || slug where slug = $1",
        [slug],
        t.controlDatabase,
      );
    }
    await t.services.alerts.raise({
      source: 'watchdog',
      dedupKey: `admin-${suffix}`,
      tenant: tenantA,
      severity: 'warning',
      summary: 'an operator matter',
    });
    // Tenant A's changes come last: once the admin has them, it would have had B's.
    await admin.next(isChange('tenants', tenantA, tenantA));
    await admin.next(isChange('incidents', tenantA));
    await operator.next(isChange('tenants', tenantA, tenantA));
    const seen = (s: SseClient) => s.frames.filter((f) => f.event === 'change').map((f) => f.data);
    expect(seen(admin).length).toBeGreaterThan(0);
    expect(seen(admin).every((e) => e.tenant === tenantA)).toBe(true);
    // Its tenant's alerts and audit are an operator's pages.
    expect(seen(admin).some((e) => e.topic === 'alerts' || e.topic === 'audit')).toBe(false);
    expect(seen(operator).some((e) => e.tenant === tenantB && e.topic === 'incidents')).toBe(true);
    expect(seen(operator).every((e) => e.topic === 'tenants' || e.topic === 'incidents')).toBe(true);

    const bad = await t.request('GET', '/api/v1/events?topics=tenants,payroll');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ field: 'topics' });
    expect(bad.body.message).toMatch(/"payroll" is not a topic; accepted are: tenants, stages/);
    expect((await t.request('GET', '/api/v1/events', undefined, null)).status).toBe(401);
  });

  it('survives a killed LISTEN session: it listens again, tells every stream to resync, and goes on', async () => {
    const reader = await open();
    await reader.next((f) => f.event === 'retry');
    const killed = await t.query<{ killed: boolean }>(
      "select pg_terminate_backend(pid) as killed from pg_stat_activity where datname = $1 and query = 'listen steward_events'",
      [t.controlDatabase],
    );
    expect(killed.map((k) => k.killed)).toEqual([true]);
    const resync = await reader.next((f) => f.event === 'resync', 5000);
    expect(resync.data.reason).toMatch(/listening again/);
    await t.query("update tenants set display_name = 'after' where slug = $1", [tenantB], t.controlDatabase);
    await reader.next((f) => isChange('tenants', tenantB, tenantB)(f) && f.at > resync.at);
  });

  it('ends a stream when its token is revoked (a console signed out)', async () => {
    const created = await t.request('POST', '/api/v1/tokens', { name: `console-${suffix}` });
    expect(created.status, created.text).toBe(201);
    const reader = await open(created.body.token as string);
    await reader.next((f) => f.event === 'retry');
    const since = performance.now();
    expect((await t.request('DELETE', `/api/v1/tokens/${created.body.id as string}`)).status).toBe(200);
    await reader.ended;
    expect(performance.now() - since).toBeLessThan(1000);
    expect((await openEvents(`${url}/api/v1/events`, created.body.token as string)).status).toBe(401);
  });

  it('cuts off a console that stops reading, without holding up the others', async () => {
    const hub = t.steward.events as Hub;
    for (const stream of streams.splice(0)) stream.close();
    while (hub.subscribers > 0) await new Promise((r) => setTimeout(r, 10));
    const slow = await open();
    const fast = await open();
    await slow.next((f) => f.event === 'retry');
    await fast.next((f) => f.event === 'retry');
    // The slow one's reader stops: the kernel's buffers fill, then Steward's (64 KiB here).
    slow.response.pause();
    let sent = 0;
    const started = performance.now();
    while (hub.subscribers === 2 && sent < 400_000) {
      // A tenant each: nothing to coalesce, every one is a frame.
      for (let i = 0; i < 100; i++, sent++) {
        hub.receive(JSON.stringify({ topic: 'stages', op: 'insert', tenant: `f${sent}`, id: 'prod' }));
      }
      hub.flush();
      // The fast reader reads as it goes.
      await new Promise((r) => setImmediate(r));
    }
    expect(hub.subscribers).toBe(1);
    hub.receive(JSON.stringify({ topic: 'stages', op: 'insert', tenant: 'last', id: 'prod' }));
    hub.flush();
    await fast.next((f) => f.event === 'change' && f.data.tenant === 'last');
    expect(
      fast.frames.filter(
        (f) => f.event === 'change' && f.data.topic === 'stages' && f.data.tenant.startsWith('f'),
      ).length,
    ).toBe(sent);
    expect(t.logs()).toContain('a console event stream fell behind; closed');
    slow.response.resume();
    await slow.ended;
    console.info(`slow console cut off after ${sent} events, ${Math.round(performance.now() - started)} ms`);
  });

  it("hears another node's changes: a second hub on the same control database gets them too", async () => {
    const pool = new pg.Pool({ connectionString: t.controlUrl, max: 2 });
    pool.on('error', () => undefined);
    const other = new EventHub({ pool, logger: silentLogger, coalesceMs: 10 });
    const heard: string[] = [];
    other.subscribe({
      principal: systemPrincipal,
      topics: new Set(['tenants']),
      sink: { write: (frame) => heard.push(frame) > 0, end: () => undefined },
    });
    try {
      await other.start();
      const reader = await open(t.token, '?topics=tenants');
      const contact = { name: 'Node two', email: `ops-${suffix}@a.example` };
      const changed = await t.request('POST', `/api/v1/tenants/${tenantA}/contacts`, contact);
      expect(changed.status, changed.text).toBe(200);
      await reader.next(isChange('tenants', tenantA, tenantA));
      const deadline = Date.now() + 2000;
      while (!heard.some((f) => f.includes(`"id":"${tenantA}"`)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(heard.join('')).toContain(
        `{"topic":"tenants","op":"update","tenant":"${tenantA}","id":"${tenantA}"}`,
      );
    } finally {
      other.stop();
      await pool.end();
    }
  });

  it('tells operators of a bulk change once, and a tenant admin of its own rows still', () => {
    const hub = new EventHub({ pool: new pg.Pool(), logger: silentLogger });
    const operator: string[] = [];
    const admin: string[] = [];
    const sink = (frames: string[]) => ({
      write: (frame: string) => frames.push(frame) > 0,
      end: () => undefined,
    });
    hub.subscribe({ principal: systemPrincipal, topics: undefined, sink: sink(operator) });
    hub.subscribe({
      principal: {
        kind: 'tenant-admin',
        role: 'tenant-admin',
        tenant: { id: '1', slug: 'bulk7', mfa: true },
        tokenId: '1',
      },
      topics: undefined,
      sink: sink(admin),
    });
    for (let i = 0; i < 150; i++) {
      hub.receive(JSON.stringify({ topic: 'stages', op: 'update', tenant: `bulk${i}`, id: 'prod' }));
    }
    hub.flush();
    hub.stop();
    expect(operator).toEqual([
      'event: change\ndata: {"topic":"stages","op":"many","tenant":null,"id":null}\n\n',
    ]);
    expect(admin).toEqual([
      'event: change\ndata: {"topic":"stages","op":"update","tenant":"bulk7","id":"prod"}\n\n',
    ]);
  });
});
