import { useState } from 'react';
import { useI18n } from '../../app/i18n.tsx';
import { useCan } from '../../app/session.tsx';
import { useUrlState } from '../../app/url.ts';
import {
  ConfirmAction,
  DataTable,
  FilterText,
  FormSection,
  Page,
  StatusBadge,
  TextField,
  numberOrTyped,
  useFormState,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { Flash, asTyped } from '../ops-kit/kit.tsx';
import { formatDuration } from '../ops-kit/format.ts';
import type { CheckRow } from './types.ts';

const emptyForm = { stage: 'prod', path: '/', expectStatus: '', interval: '30s' };

/** A tenant's checks (the tenant in the URL): state, since, last result; add an HTTP check, remove one. */
export default function CheckList() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const url = useUrlState();
  const tenant = url.get('tenant');
  const [flash, setFlash] = useState<string | null>(null);
  const result = useTablePage('/api/v1/tenants/{tenant}/checks', {
    params: { tenant },
    enabled: tenant !== '',
    topics: ['checks'],
    match: (signal) => signal.topic !== 'checks' || !('tenant' in signal) || signal.tenant === tenant,
  });
  const add = useFormState(
    emptyForm,
    (api, f) =>
      api.post('/api/v1/tenants/{tenant}/stages/{stage}/checks', {
        params: { tenant, stage: f.stage },
        body: asTyped({
          path: f.path,
          interval: f.interval,
          ...(f.expectStatus ? { expectStatus: numberOrTyped(f.expectStatus) } : {}),
        }),
      }),
    {
      onSuccess: () => {
        setFlash(t('checks.added'));
        result.refetch();
      },
    },
  );
  const columns: Column<CheckRow>[] = [
    { key: 'target', header: t('checks.col.target'), rowHeader: true, render: (c) => c.target },
    { key: 'stage', header: t('checks.col.stage'), render: (c) => c.stage ?? '–' },
    {
      key: 'kind',
      header: t('checks.col.kind'),
      render: (c) => (c.builtin ? `${c.kind} (${c.builtin})` : c.kind),
    },
    {
      key: 'interval',
      header: t('checks.col.interval'),
      render: (c) => formatDuration(c.intervalSeconds * 1000),
    },
    {
      key: 'state',
      header: t('checks.col.state'),
      render: (c) => (
        <StatusBadge
          state={c.state}
          tone={c.state === 'up' ? 'good' : c.state === 'down' ? 'bad' : undefined}
        />
      ),
    },
    { key: 'since', header: t('checks.col.since'), render: (c) => formatDate(c.since) },
    {
      key: 'last',
      header: t('checks.col.last'),
      render: (c) =>
        c.lastResult
          ? `${c.lastResult.outcome} · ${c.lastResult.detail} · ${formatDate(c.lastResult.at)}`
          : '–',
    },
    {
      key: 'actions',
      header: t('alerts.col.actions'),
      render: (c) =>
        can('tenants.write') && c.origin === 'operator' ? (
          <ConfirmAction
            label={t('checks.remove')}
            ariaLabel={`${t('checks.remove')}: ${c.target} (${c.id})`}
            title={t('checks.remove.confirm', { id: c.id })}
            danger
            run={(api) =>
              api.delete('/api/v1/tenants/{tenant}/checks/{id}', { params: { tenant, id: c.id } })
            }
            onDone={() => {
              setFlash(t('checks.removed', { id: c.id }));
              result.refetch();
            }}
          />
        ) : null,
    },
  ];
  return (
    <Page title={t('checks.title')}>
      <Flash text={flash} />
      <div role="search" className="filters">
        <FilterText name="tenant" label={t('checks.tenant')} />
      </div>
      {tenant === '' ? (
        <p className="muted">{t('checks.pickTenant')}</p>
      ) : (
        <>
          <DataTable
            label={t('checks.title')}
            columns={columns}
            result={result}
            rowKey={(c) => c.id}
            empty={t('checks.empty')}
          />
          {can('tenants.write') ? (
            <FormSection
              id="check-add"
              title={t('checks.add')}
              {...add.form}
              submitLabel={t('checks.add')}
              busy={add.pending}
            >
              <TextField {...add.field('stage')} label={t('checks.add.stage')} />
              <TextField {...add.field('path')} label={t('checks.add.path')} />
              <TextField {...add.field('expectStatus')} label={t('checks.add.status')} inputMode="numeric" />
              <TextField {...add.field('interval')} label={t('checks.add.interval')} />
            </FormSection>
          ) : null}
        </>
      )}
    </Page>
  );
}
