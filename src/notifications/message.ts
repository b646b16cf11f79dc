import { InputError, showValue } from '../core/errors.ts';

/**
 * What a notification says, and how each channel kind carries it. Pure: the
 * drivers only send what these functions return.
 */
export const channelKinds = ['email', 'webhook'] as const;
export type ChannelKind = (typeof channelKinds)[number];

/** Webhook body shapes: Slack's incoming webhooks, a Microsoft Teams MessageCard, or Steward's own JSON. */
export const webhookPresets = ['slack', 'teams', 'generic'] as const;
export type WebhookPreset = (typeof webhookPresets)[number];

/**
 * Idempotency keys travel in headers and in an email's Message-ID: letters,
 * digits and . _ : - only, so none can inject a header or break the Message-ID.
 */
const keyPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

export function checkIdempotencyKey(key: string, field = 'key'): string {
  if (!keyPattern.test(key)) {
    throw new InputError(
      `field "${field}": ${showValue(key)} is not an idempotency key; use 1 to 200 letters, digits, ".", "_", ":" or "-", starting with a letter or digit`,
      { field },
    );
  }
  return key;
}

export interface Notification {
  readonly key: string;
  /** What raised it: `alert`, `test`, `notification-failed`… */
  readonly kind: string;
  readonly subject: string;
  readonly body: string;
  readonly createdAt: Date;
}

export interface EmailMessage {
  readonly subject: string;
  readonly text: string;
  /** `<key@steward>`: a mail client or archive sees a redelivery as the same message. */
  readonly messageId: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface WebhookRequest {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Subjects are one line: a tenant-influenced string never adds a header. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ').slice(0, 250);
}

export function renderEmail(n: Notification): EmailMessage {
  return {
    subject: `[Steward] ${oneLine(n.subject)}`,
    text: `${n.body}\n\n--\n${n.kind} notification from Steward, ${n.createdAt.toISOString()}\nIdempotency key: ${n.key}\n`,
    messageId: `<${n.key}@steward>`,
    headers: { 'X-Steward-Idempotency-Key': n.key },
  };
}

export function webhookBody(n: Notification, preset: WebhookPreset): unknown {
  const subject = oneLine(n.subject);
  switch (preset) {
    case 'slack':
      return {
        text: `*${subject}*\n${n.body}`,
        metadata: { event_type: n.kind, event_payload: { key: n.key } },
      };
    case 'teams':
      return {
        '@type': 'MessageCard',
        '@context': 'https://schema.org/extensions',
        summary: subject,
        title: subject,
        text: n.body,
      };
    case 'generic':
      return {
        idempotencyKey: n.key,
        kind: n.kind,
        subject,
        body: n.body,
        createdAt: n.createdAt.toISOString(),
      };
  }
}

/**
 * A webhook request: the preset's JSON body, the idempotency key in both the
 * de-facto standard header and Steward's own, and the signature header when
 * the channel has a secret (see signature.ts).
 */
export function renderWebhook(
  n: Notification,
  preset: WebhookPreset,
  sign?: (body: string) => string,
): WebhookRequest {
  const body = JSON.stringify(webhookBody(n, preset));
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'idempotency-key': n.key,
      'x-steward-idempotency-key': n.key,
      ...(sign ? { 'x-steward-signature': sign(body) } : {}),
    },
  };
}
