import { useState } from 'react';
import type { ConsoleApi } from '../../app/api.ts';
import { useMutation } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import {
  Button,
  DataTable,
  Form,
  StatusBadge,
  TextField,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { present } from '../ops-kit/format.ts';
import { useI18n } from '../../app/i18n.tsx';
import { ConfirmAction, Flash, shaped, asTyped, useFormValues } from '../ops-kit/kit.tsx';

interface ChannelRow {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly target: string;
  readonly preset: string | null;
  readonly signed: boolean;
  readonly enabled: boolean;
}

const emptyForm = { kind: 'email', target: '', name: '' };

/** Notification channels in failover order: enable, disable, test, remove, add. */
export function Channels() {
  const { t } = useI18n();
  const can = useCan();
  const writable = can('notifications.write');
  const [flash, setFlash] = useState<string | null>(null);
  const { values: form, field, reset } = useFormValues(emptyForm);
  const result = useTablePage<ChannelRow>('/api/v1/notification-channels', {});
  const done = (text: string) => {
    setFlash(text);
    result.refetch();
  };
  const toggle = useMutation(
    (api: ConsoleApi, c: ChannelRow) =>
      shaped<ChannelRow>(
        api.patch('/api/v1/notification-channels/{channel}', {
          params: { channel: c.name },
          body: { enabled: !c.enabled },
        }),
      ),
    {
      onSuccess: (c) =>
        done(`${c.name}: ${c.enabled ? t('settings.channels.enable') : t('settings.channels.disable')}`),
    },
  );
  const add = useMutation(
    (api: ConsoleApi, f: typeof emptyForm) =>
      api.post('/api/v1/notification-channels', { body: asTyped(present(f)) }),
    {
      onSuccess: () => {
        reset();
        done(t('settings.channels.added'));
      },
    },
  );
  const columns: Column<ChannelRow>[] = [
    { key: 'name', header: t('settings.channels.col.name'), rowHeader: true, render: (c) => c.name },
    {
      key: 'kind',
      header: t('settings.channels.col.kind'),
      render: (c) => [c.kind, c.preset, c.signed ? 'HMAC' : null].filter(Boolean).join(' · '),
    },
    { key: 'target', header: t('settings.channels.col.target'), render: (c) => c.target },
    {
      key: 'enabled',
      header: t('settings.channels.col.enabled'),
      render: (c) => <StatusBadge state={c.enabled ? 'active' : 'stopped'} />,
    },
    {
      key: 'actions',
      header: t('settings.channels.col.actions'),
      render: (c) =>
        writable ? (
          <span className="row-actions">
            <Button
              aria-label={`${c.enabled ? t('settings.channels.disable') : t('settings.channels.enable')}: ${c.name}`}
              onClick={() => void toggle.mutate(c)}
            >
              {c.enabled ? t('settings.channels.disable') : t('settings.channels.enable')}
            </Button>
            <ConfirmAction
              label={t('settings.channels.test')}
              ariaLabel={`${t('settings.channels.test')}: ${c.name}`}
              title={`${t('settings.channels.test')}: ${c.name}`}
              run={(api) =>
                shaped<{ status: string }>(
                  api.post('/api/v1/notification-channels/{channel}/test', {
                    params: { channel: c.name },
                  }),
                )
              }
              onDone={(n) => done(t('settings.channels.tested', { name: c.name, status: n.status }))}
            />
            <ConfirmAction
              danger
              label={t('settings.channels.remove')}
              ariaLabel={`${t('settings.channels.remove')}: ${c.name}`}
              title={t('settings.channels.remove.confirm', { name: c.name })}
              run={(api) =>
                api.delete('/api/v1/notification-channels/{channel}', { params: { channel: c.name } })
              }
              onDone={() => done(t('settings.channels.removed', { name: c.name }))}
            />
          </span>
        ) : null,
    },
  ];
  return (
    <>
      <Flash text={flash} />
      <DataTable
        label={t('settings.tab.notifications')}
        columns={columns}
        result={result}
        rowKey={(c) => c.id}
        empty={t('settings.channels.empty')}
      />
      {writable ? (
        <Form
          label={t('settings.channels.add')}
          error={add.error ?? toggle.error}
          onSubmit={() => add.mutate(form)}
        >
          <TextField {...field('kind')} label={t('settings.channels.add.kind')} />
          <TextField {...field('target')} label={t('settings.channels.add.target')} required />
          <TextField {...field('name')} label={t('settings.channels.add.name')} />
          <Button type="submit" busy={add.pending}>
            {t('settings.channels.add')}
          </Button>
        </Form>
      ) : null}
    </>
  );
}
