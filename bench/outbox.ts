/**
 * bench/outbox: notifications through the outbox to a real SMTP server
 * (smtp-server) and a webhook receiver (node:http) that answers 503 for its
 * first BENCH_DOWN_SECONDS. Prints JSON: how many were enqueued, delivered,
 * lost (a key no receiver got) and repeated (a key received more than once:
 * allowed, at least once, but counted), and the seconds until the outbox
 * drained.
 *
 * Usage: npm run bench:outbox  (BENCH_NOTIFICATIONS=10000, half by email and
 * half by webhook; BENCH_DOWN_SECONDS=60)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { smtpReceiver } from './smtp.ts';
import { log, round, sleep, withSteward } from './support.ts';

const total = Number(process.env.BENCH_NOTIFICATIONS ?? 10_000);
const downSeconds = Number(process.env.BENCH_DOWN_SECONDS ?? 60);

/** Keys each receiver got, with how often. */
const received = { email: new Map<string, number>(), webhook: new Map<string, number>() };
const count = (map: Map<string, number>, key: string | undefined): void => {
  if (key) map.set(key, (map.get(key) ?? 0) + 1);
};

const smtp = await smtpReceiver();
const smtpPort = smtp.port;

let upAt = Number.POSITIVE_INFINITY;
let refused = 0;
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (Date.now() < upAt) {
      refused++;
      res.statusCode = 503;
      res.end();
      return;
    }
    count(received.webhook, req.headers['idempotency-key'] as string | undefined);
    res.end('ok');
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

await withSteward(
  'outbox',
  async ({ running }) => {
    const notifications = running.steward.services.notifications;
    const system = {
      kind: 'system',
      operatorId: null,
      username: 'bench',
      role: 'owner',
      tokenId: null,
      address: null,
      accountAccess: false,
    } as const;
    await notifications.addChannel({ kind: 'email', target: 'ops@example.com', name: 'mail' }, system);
    await notifications.addChannel({ kind: 'webhook', target: hookUrl, name: 'hook' }, system);
    const started = Date.now();
    upAt = started + downSeconds * 1000;
    log(`bench/outbox: enqueueing ${total}, the webhook receiver down for ${downSeconds} s`);
    for (let i = 0; i < total; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, total - i) }, (_, j) =>
          notifications.enqueue({
            key: `bench-${i + j}`,
            kind: 'bench',
            subject: `bench notification ${i + j}`,
            body: 'body',
            channels: [(i + j) % 2 === 0 ? 'mail' : 'hook'],
          }),
        ),
      );
    }
    const enqueuedSeconds = (Date.now() - started) / 1000;
    for (;;) {
      const pending = await notifications.log({ status: 'pending', limit: 1 });
      if (pending.length === 0) break;
      await sleep(200);
    }
    const drainedSeconds = (Date.now() - started) / 1000;
    for (const message of smtp.messages) count(received.email, message.key);
    const failed = await notifications.log({ status: 'failed', limit: 1000 });
    const keys = Array.from({ length: total }, (_, i) => `bench-${i}`);
    const got = (key: string): number => (received.email.get(key) ?? 0) + (received.webhook.get(key) ?? 0);
    return {
      bench: 'outbox',
      notifications: total,
      webhookDownSeconds: downSeconds,
      webhookRefusals: refused,
      enqueuedSeconds: round(enqueuedSeconds),
      drainedSeconds: round(drainedSeconds),
      drainedAfterWebhookUpSeconds: round(drainedSeconds - downSeconds),
      delivered: keys.filter((k) => got(k) > 0).length,
      lost: keys.filter((k) => got(k) === 0).length,
      repeated: keys.filter((k) => got(k) > 1).length,
      failed: failed.length,
      byChannel: { email: received.email.size, webhook: received.webhook.size },
      settings: running.config.notifications,
    };
  },
  {
    overrides: {
      notifications: {
        smtp: { host: '127.0.0.1', port: smtpPort, from: 'steward@example.com' },
        // Long enough for the receiver's outage; retries every few seconds at most.
        retryBaseSeconds: 1,
        retryCapSeconds: 5,
        deadlineMinutes: 30,
      },
    },
  },
);
receiver.close();
await smtp.close();
