import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import { startTestSteward, testUidBase, type TestSteward } from '../harness/steward.ts';
import { startMailServer, type MailServer } from '../notifications/receivers.ts';
import { eventually } from '../cli/process.ts';

/**
 * kill -9 of a Steward between escalation passes: the step due while it was
 * dead is paged after the restart (not lost), the step paged before it is
 * not paged again (the pages and the outbox's keys), at least once.
 */
const smtpUser = 'oncall-crash-mailer';
const smtpPassword = 'oncall-crash-smtp-password';
const child = resolve(import.meta.dirname, 'child-steward.ts');

let st: TestSteward;
let mail: MailServer;
let childDir: string;
const children: ChildProcess[] = [];

function startChild(raise?: string): Promise<{ process: ChildProcess; alert?: string }> {
  const config = {
    ...st.config,
    dataDir: childDir,
    runtime: { uidBase: testUidBase(), uidCount: 1000 },
    notifications: { ...st.config.notifications, pollSeconds: 0.1 },
    oncall: { passSeconds: 0.2 },
    alerts: { groupWaitSeconds: 0, passSeconds: 0.2 },
    api: { host: '127.0.0.1', port: 0 },
    // A node of its own (the observer's name is live); a restarted child takes its dead predecessor's name over.
    node: { name: `${st.config.node.name ?? 'observer'}-child` },
  };
  const { backups: _backups, ...rest } = config;
  const proc = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', child], {
    env: {
      ...process.env,
      STEWARD_TEST_CHILD: JSON.stringify({
        config: { ...rest, backups: { enabled: false } },
        controlUrl: st.controlUrl,
        adminUrl: replaceDatabase(inject('pgSuperuserUrl'), st.controlDatabase),
        sharedClusterUrl: st.sharedClusterUrl,
        pgBinDir: inject('pgBinDir'),
        ...(raise ? { raise } : {}),
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolveStart, reject) => {
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready\n')) {
        const raised = /^raised alert (\d+)$/m.exec(out)?.[1];
        resolveStart({ process: proc, ...(raised ? { alert: raised } : {}) });
      }
    });
    proc.on('exit', (code) =>
      reject(new Error(`child Steward exited (${code}) before it was ready:\n${out}\n${err}`)),
    );
  });
}

beforeAll(async () => {
  mail = await startMailServer({ user: smtpUser, password: smtpPassword });
  // The observer: no timers of its own (workers off); the child Stewards escalate.
  st = await startTestSteward({
    workers: false,
    config: {
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'steward@example.com' },
        retryBaseSeconds: 0.05,
        retryCapSeconds: 0.1,
        timeoutSeconds: 2,
      },
    },
  });
  await st.services.notifications.keepSmtpCredentials(smtpUser, smtpPassword);
  childDir = await mkdtemp(join(tmpdir(), 'st-oc-'));
  await chmod(childDir, 0o711);
  // The same install: the child opens the secrets the observer sealed.
  await copyFile(join(st.dataDir, 'master.key'), join(childDir, 'master.key'));
  for (const [username, email] of [
    ['anna', 'anna@example.com'],
    ['ben', 'ben@example.com'],
  ] as const) {
    expect((await st.request('POST', '/api/v1/operators', { username, role: 'operator' })).status).toBe(201);
    expect((await st.request('PUT', `/api/v1/oncall/contacts/${username}`, { email })).status).toBe(200);
  }
  expect(
    (
      await st.request('POST', '/api/v1/oncall/schedules', {
        name: 'ops',
        rotation: 'daily',
        tz: 'UTC',
        members: ['anna'],
      })
    ).status,
  ).toBe(201);
  const policy = await st.request('PUT', '/api/v1/oncall/escalation-policies/default', {
    steps: ['notify schedule ops', 'after 3s notify operators ben'],
  });
  expect(policy.status, policy.text).toBe(200);
});

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
  }
  await st?.close();
  await mail?.close();
  if (childDir) await rm(childDir, { recursive: true, force: true });
});

/** Polls `probe` (sync or async) every 50 ms until it returns a value. */
function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
): Promise<T> {
  return eventually(what, async () => probe(), ms, 50);
}

describe('escalation across kill -9', () => {
  it('pages the step that fell due while Steward was dead, once, and never repeats the one before', async () => {
    const first = await startChild(`crash-${Date.now()}`);
    const alert = first.alert ?? '';
    expect(alert).toMatch(/^\d+$/);
    const mailsTo = (to: string) =>
      mail.mails.filter((m) => m.to.includes(to) && m.raw.includes(`alert:${alert}:page:`));
    await until('the page to anna', () => (mailsTo('anna@example.com').length > 0 ? true : undefined));
    first.process.kill('SIGKILL');
    await new Promise((r) => first.process.once('exit', r));
    const firedAt = Date.parse((await st.services.alerts.get(alert)).firedAt ?? '');
    // Step 2 falls due while no Steward runs.
    await new Promise((r) => setTimeout(r, Math.max(0, firedAt + 3500 - Date.now())));
    expect(mailsTo('ben@example.com')).toHaveLength(0);

    const second = await startChild();
    await until('the page to ben after the restart', () =>
      mailsTo('ben@example.com').length > 0 ? true : undefined,
    );
    // A few more passes of the restarted Steward: nothing is paged again.
    await new Promise((r) => setTimeout(r, 1000));
    expect(mailsTo('anna@example.com')).toHaveLength(1);
    expect(mailsTo('ben@example.com')).toHaveLength(1);
    const pages = await st.query<{ round: number; step: number; recipient: string }>(
      'select round, step, recipient from oncall_pages where alert_id = $1 order by id',
      [alert],
      st.controlDatabase,
    );
    expect(pages).toEqual([
      { round: 0, step: 0, recipient: 'operator:anna' },
      { round: 0, step: 1, recipient: 'operator:ben' },
    ]);
    const outbox = await st.query<{ n: string }>(
      'select count(*)::text as n from notification_outbox where idempotency_key like $1',
      [`alert:${alert}:page:%`],
      st.controlDatabase,
    );
    expect(outbox).toEqual([{ n: '2' }]);
    second.process.kill('SIGTERM');
    await new Promise((r) => second.process.once('exit', r));
  }, 90_000);
});
