import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.ts';
import { checkNewChannel } from '../../../src/notifications/channels.ts';
import {
  checkIdempotencyKey,
  renderEmail,
  renderWebhook,
  type Notification,
} from '../../../src/notifications/message.ts';
import { afterFailure, type DeliveryState } from '../../../src/notifications/retry.ts';
import { signatureHeader, verifySignature } from '../../../src/notifications/signature.ts';

const now = new Date('2026-12-06T12:00:00Z');
const notification: Notification = {
  key: 'alert-42:1',
  kind: 'alert',
  subject: 'acme/prod is down\r\nBcc: evil@example.com',
  body: 'HTTP check failed twice.',
  createdAt: now,
};
const settings = { baseMs: 1000, capMs: 8000, failoverAfter: 3 };
const state = (s: Partial<DeliveryState>): DeliveryState => ({
  attempts: 1,
  channelIndex: 0,
  channelFailures: 0,
  chainLength: 2,
  deadline: new Date(now.getTime() + 3_600_000),
  ...s,
});
const at = (ms: number): Date => new Date(now.getTime() + ms);

describe('after a failed delivery', () => {
  it.each([
    // attempts, channel failures, chain, random → channel, failures, delay
    {
      name: 'first failure: half the base, and jitter up to the base',
      s: state({}),
      random: 0,
      index: 0,
      failures: 1,
      delay: 500,
    },
    { name: 'first failure with full jitter', s: state({}), random: 1, index: 0, failures: 1, delay: 1000 },
    {
      name: 'doubles per attempt',
      s: state({ attempts: 3, channelFailures: 1 }),
      random: 1,
      index: 0,
      failures: 2,
      delay: 4000,
    },
    {
      name: 'capped',
      s: state({ attempts: 9, channelFailures: 0, chainLength: 1 }),
      random: 1,
      index: 0,
      failures: 1,
      delay: 8000,
    },
    {
      name: 'fails over at once after failoverAfter failures',
      s: state({ attempts: 3, channelFailures: 2 }),
      random: 1,
      index: 1,
      failures: 0,
      delay: 0,
    },
    {
      name: 'wraps around to the first channel',
      s: state({ attempts: 6, channelIndex: 1, channelFailures: 2 }),
      random: 1,
      index: 0,
      failures: 0,
      delay: 0,
    },
    {
      name: 'a lone channel is retried, never failed over',
      s: state({ attempts: 3, channelFailures: 2, chainLength: 1 }),
      random: 1,
      index: 0,
      failures: 3,
      delay: 4000,
    },
    {
      name: 'the last attempt is at the deadline, not after it',
      s: state({ attempts: 9, deadline: at(3000) }),
      random: 1,
      index: 0,
      failures: 1,
      delay: 3000,
    },
  ])('$name', ({ s, random, index, failures, delay }) => {
    expect(afterFailure(s, settings, now, () => random)).toEqual({
      kind: 'retry',
      channelIndex: index,
      channelFailures: failures,
      nextAttemptAt: at(delay),
    });
  });

  it('gives up at the deadline, saying so', () => {
    const next = afterFailure(state({ attempts: 7, deadline: now }), settings, now);
    expect(next).toEqual({
      kind: 'give-up',
      reason: `not delivered after 7 attempts by its deadline ${now.toISOString()}`,
    });
  });
});

describe('messages carry the idempotency key', () => {
  it('in the email: Message-ID, a header and the text; the subject stays one line', () => {
    const email = renderEmail(notification);
    expect(email.messageId).toBe('<alert-42:1@steward>');
    expect(email.headers).toEqual({ 'X-Steward-Idempotency-Key': 'alert-42:1' });
    expect(email.subject).toBe('[Steward] acme/prod is down Bcc: evil@example.com');
    expect(email.text).toContain('Idempotency key: alert-42:1');
  });

  it.each([
    ['slack', { text: '*acme/prod is down Bcc: evil@example.com*\nHTTP check failed twice.' }],
    [
      'teams',
      {
        '@type': 'MessageCard',
        title: 'acme/prod is down Bcc: evil@example.com',
        text: 'HTTP check failed twice.',
      },
    ],
    [
      'generic',
      {
        idempotencyKey: 'alert-42:1',
        kind: 'alert',
        body: 'HTTP check failed twice.',
        createdAt: now.toISOString(),
      },
    ],
  ] as const)('in a %s webhook: both headers, and its body shape', (preset, body) => {
    const request = renderWebhook(notification, preset);
    expect(request.headers).toMatchObject({
      'idempotency-key': 'alert-42:1',
      'x-steward-idempotency-key': 'alert-42:1',
    });
    expect(request.headers).not.toHaveProperty('x-steward-signature');
    expect(JSON.parse(request.body)).toMatchObject(body);
  });

  it.each(['', 'a b', 'x\r\nBcc: y', '<id>', 'a'.repeat(201), '-lead'])('refuses key %j', (key) => {
    expect(() => checkIdempotencyKey(key)).toThrow(InputError);
  });
});

describe('webhook signatures (t=…,v1=HMAC-SHA256 over "t.body")', () => {
  const secret = 'whsec-0123456789abcdef';
  const body = renderWebhook(notification, 'generic').body;
  const header = signatureHeader(secret, body, now);

  it('has the documented shape and a known value', () => {
    expect(header).toMatch(/^t=1796558400,v1=[0-9a-f]{64}$/);
  });

  it.each([
    { name: 'verifies', secret, body, header, at: now, ok: true },
    { name: 'within the tolerance', secret, body, header, at: at(299_000), ok: true },
    { name: 'a replay after the tolerance', secret, body, header, at: at(301_000), ok: false },
    { name: 'a changed body', secret, body: `${body} `, header, at: now, ok: false },
    { name: 'another secret', secret: 'other-secret-0000', body, header, at: now, ok: false },
    { name: 'no header', secret, body, header: undefined, at: now, ok: false },
    {
      name: 'a forged timestamp',
      secret,
      body,
      header: header.replace('t=1796558400', 't=1796558401'),
      at: now,
      ok: false,
    },
    {
      name: 'one of several v1 (rotation)',
      secret,
      body,
      header: `${header},v1=${'0'.repeat(64)}`,
      at: now,
      ok: true,
    },
  ])('$name', (c) => {
    expect(verifySignature(c.secret, c.body, c.header, c.at).ok).toBe(c.ok);
  });
});

describe('a new channel', () => {
  it.each([
    [
      { kind: 'email', target: 'Ops@Example.com' },
      { name: 'ops@example.com', preset: null },
    ],
    [
      { kind: 'webhook', target: 'https://hooks.slack.com/services/T/B/x', preset: 'slack' },
      { name: 'slack-hooks.slack.com', preset: 'slack' },
    ],
    [
      { kind: 'webhook', target: 'http://127.0.0.1:9/hook', name: 'ops-hook' },
      { name: 'ops-hook', preset: 'generic' },
    ],
  ])('%j is accepted', (input, expected) => {
    expect(checkNewChannel(input)).toMatchObject(expected);
  });

  it.each([
    [{ kind: 'sms', target: '+491701234567' }, 'kind', /"sms" is not accepted; use one of email, webhook/],
    [{ kind: 'email', target: 'ops' }, 'target', /"ops" is not an email address/],
    [{ kind: 'email', target: 'ops@example.com', preset: 'slack' }, 'preset', /for webhooks only/],
    [{ kind: 'webhook', target: 'ftp://example.com/x' }, 'target', /use an https:\/\/ \(or http:\/\/\) URL/],
    [{ kind: 'webhook', target: 'https://u:p@example.com/x' }, 'target', /without user or password/],
    [{ kind: 'webhook', target: 'not a url' }, 'target', /is not a URL/],
    [
      { kind: 'webhook', target: 'https://example.com', preset: 'discord' },
      'preset',
      /use one of slack, teams, generic/,
    ],
    [{ kind: 'email', target: 'ops@example.com', name: 'a b' }, 'name', /is not a channel name/],
  ])('%j is refused, naming %s', (input, field, message) => {
    let error: unknown;
    try {
      checkNewChannel(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe(field);
    expect((error as InputError).message).toMatch(message);
  });
});
