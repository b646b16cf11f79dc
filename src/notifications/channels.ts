import type { Selectable } from 'kysely';
import { ConflictError, InputError, NotFoundError, showValue } from '../core/errors.ts';
import type { Queryable } from '../store/db.ts';
import type { NotificationChannelsTable } from '../store/schema-operations.ts';
import { channelKinds, webhookPresets, type ChannelKind, type WebhookPreset } from './message.ts';

/** The one owner of notification_channels: where notifications go, in failover order. */
export interface Channel {
  readonly id: string;
  readonly name: string;
  readonly kind: ChannelKind;
  readonly target: string;
  readonly preset: WebhookPreset | null;
  /** The HMAC secret's name in the secret store; the secret never leaves it but to sign. */
  readonly secretName: string | null;
  readonly enabled: boolean;
  readonly position: number;
}

/** A channel as listings show it: a webhook URL's path often is a credential itself (Slack's), so only its origin. */
export interface ChannelView {
  readonly id: string;
  readonly name: string;
  readonly kind: ChannelKind;
  readonly target: string;
  readonly preset: WebhookPreset | null;
  readonly signed: boolean;
  readonly enabled: boolean;
  readonly position: number;
}

export function channelView(c: Channel): ChannelView {
  return {
    id: c.id,
    name: c.name,
    kind: c.kind,
    target: c.kind === 'webhook' ? `${new URL(c.target).origin}/…` : c.target,
    preset: c.preset,
    signed: c.secretName !== null,
    enabled: c.enabled,
    position: c.position,
  };
}

/** A channel as asked for, before checkNewChannel. */
export interface NewChannel {
  readonly kind: string;
  readonly target: string;
  readonly name?: string | undefined;
  readonly preset?: string | undefined;
}

export interface CheckedChannel {
  readonly kind: ChannelKind;
  readonly target: string;
  readonly name: string;
  readonly preset: WebhookPreset | null;
}

const emailPattern =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$/;

export function checkEmailAddress(value: string, field: string): string {
  if (!emailPattern.test(value)) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not an email address such as ops@example.com`,
      {
        field,
      },
    );
  }
  return value;
}

/** Checks a new channel and fills in its name. Pure. */
export function checkNewChannel(input: NewChannel): CheckedChannel {
  const kind = input.kind as ChannelKind;
  if (!channelKinds.includes(kind)) {
    throw new InputError(
      `field "kind": ${showValue(input.kind)} is not accepted; use one of ${channelKinds.join(', ')}`,
      {
        field: 'kind',
      },
    );
  }
  let name: string;
  let preset: WebhookPreset | null = null;
  if (input.kind === 'email') {
    checkEmailAddress(input.target, 'target');
    if (input.preset !== undefined) {
      throw new InputError(
        `field "preset": ${showValue(input.preset)} is for webhooks only; leave it out for email`,
        {
          field: 'preset',
        },
      );
    }
    name = input.target.toLowerCase();
  } else {
    let url: URL;
    try {
      url = new URL(input.target);
    } catch {
      throw new InputError(
        `field "target": ${showValue(input.target)} is not a URL; use an https:// (or http://) URL`,
        {
          field: 'target',
        },
      );
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) {
      throw new InputError(
        `field "target": ${showValue(input.target)} is not accepted; use an https:// (or http://) URL without user or password`,
        { field: 'target' },
      );
    }
    preset = (input.preset ?? 'generic') as WebhookPreset;
    if (!webhookPresets.includes(preset)) {
      throw new InputError(
        `field "preset": ${showValue(preset)} is not accepted; use one of ${webhookPresets.join(', ')}`,
        {
          field: 'preset',
        },
      );
    }
    name = `${preset}-${url.hostname}`;
  }
  if (input.name !== undefined) name = input.name;
  if (!namePattern.test(name)) {
    throw new InputError(
      `field "name": ${showValue(name)} is not a channel name; use 1 to 100 letters, digits, ".", "_", "@", "+" or "-"`,
      { field: 'name' },
    );
  }
  return { kind, target: input.target, name, preset };
}

function fromRow(row: Selectable<NotificationChannelsTable>): Channel {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as ChannelKind,
    target: row.target,
    preset: row.preset as WebhookPreset | null,
    secretName: row.secret_name,
    enabled: row.enabled,
    position: row.position,
  };
}

export function channelSecretName(name: string): string {
  return `notifications/channel/${name}/hmac`;
}

export async function insertChannel(
  tx: Queryable,
  channel: CheckedChannel,
  secretName: string | null,
): Promise<Channel> {
  const row = await tx
    .insertInto('notification_channels')
    .values((eb) => ({
      name: channel.name,
      kind: channel.kind,
      target: channel.target,
      preset: channel.preset,
      secret_name: secretName,
      // Appended to the failover chain.
      position: eb
        .selectFrom('notification_channels')
        .select((s) => s(s.fn.coalesce(s.fn.max('position'), s.val(0)), '+', 1).as('p')),
    }))
    .onConflict((oc) => oc.column('name').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) {
    throw new ConflictError(
      `a notification channel named ${showValue(channel.name)} exists; give another --name`,
      {
        field: 'name',
      },
    );
  }
  return fromRow(row);
}

export async function listChannels(db: Queryable): Promise<Channel[]> {
  const rows = await db
    .selectFrom('notification_channels')
    .selectAll()
    .orderBy('position')
    .orderBy('id')
    .execute();
  return rows.map(fromRow);
}

/** A channel by name or id. */
export async function findChannel(db: Queryable, ref: string): Promise<Channel> {
  const rows = await listChannels(db);
  const found = rows.find((c) => c.name === ref) ?? rows.find((c) => c.id === ref);
  if (!found) {
    throw new NotFoundError(
      `no notification channel ${showValue(ref)}; channels are: ${rows.map((c) => c.name).join(', ') || '(none)'}`,
      { field: 'channel' },
    );
  }
  return found;
}

export async function deleteChannel(tx: Queryable, id: string): Promise<void> {
  await tx.deleteFrom('notification_channels').where('id', '=', id).execute();
}

export async function setChannelEnabled(tx: Queryable, id: string, enabled: boolean): Promise<void> {
  await tx.updateTable('notification_channels').set({ enabled }).where('id', '=', id).execute();
}
