import { useState } from 'react';
import { Link, useLocation } from 'wouter';
import type { ConsoleApi } from '../../app/api.ts';
import { itemsOf } from '../../app/api.ts';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { useUrlState } from '../../app/url.ts';
import {
  Button,
  DataTable,
  Form,
  Page,
  SelectField,
  StatusBadge,
  TextField,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { place, present } from '../ops-kit/format.ts';
import { shaped, asTyped, FilterText, useFormValues, FilterCheck } from '../ops-kit/kit.tsx';
import { incidentStatuses, severityLevels, stateOf, type IncidentRow, type SeverityRule } from './types.ts';

/** Incidents, newest first (open only, one tenant: in the URL); open one by hand or from an alert. */
export default function IncidentList() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const url = useUrlState();
  const result = useTablePage<IncidentRow>('/api/v1/incidents', {
    filters: ['open', 'status', 'severity', 'tenant'],
    defaultLimit: 100,
    topics: ['incidents'],
  });
  const columns: Column<IncidentRow>[] = [
    {
      key: 'title',
      header: t('incidents.col.title'),
      rowHeader: true,
      render: (i) => <Link href={`/incidents/${encodeURIComponent(i.id)}`}>{`#${i.id} ${i.title}`}</Link>,
    },
    {
      key: 'severity',
      header: t('incidents.col.severity'),
      render: (i) => `${i.severity} · ${i.severityName}`,
    },
    {
      key: 'status',
      header: t('incidents.col.status'),
      render: (i) => (
        <StatusBadge
          state={t(`incidents.status.${stateOf(i)}`)}
          tone={i.closedAt || i.status === 'resolved' ? 'good' : 'bad'}
        />
      ),
    },
    { key: 'place', header: t('incidents.col.place'), render: (i) => place(i.tenant, i.stage) },
    { key: 'owner', header: t('incidents.col.owner'), render: (i) => i.owner ?? '–' },
    {
      key: 'opened',
      header: t('incidents.col.opened'),
      sort: 'opened',
      render: (i) => formatDate(i.openedAt),
    },
  ];
  return (
    <Page
      title={t('incidents.title')}
      actions={
        can('tenants.write') && url.get('new') !== '1' ? (
          <Button variant="primary" onClick={() => url.set({ new: '1' })}>
            {t('incidents.open')}
          </Button>
        ) : null
      }
    >
      {can('tenants.write') && url.get('new') === '1' ? <OpenIncident /> : null}
      <div role="search" className="filters">
        <FilterCheck name="open" label={t('incidents.filter.open')} />
        <label>
          {t('incidents.col.status')}
          <select
            value={url.get('status')}
            onChange={(event) => url.set({ status: event.target.value, cursor: null })}
          >
            <option value="">{t('incidents.filter.any')}</option>
            {incidentStatuses.map((s) => (
              <option key={s} value={s}>
                {t(`incidents.status.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('incidents.col.severity')}
          <select
            value={url.get('severity')}
            onChange={(event) => url.set({ severity: event.target.value, cursor: null })}
          >
            <option value="">{t('incidents.filter.any')}</option>
            {severityLevels.map((level) => (
              <option key={level} value={String(level)}>
                {level}
              </option>
            ))}
          </select>
        </label>
        <FilterText name="tenant" label={t('incidents.filter.tenant')} />
      </div>
      <DataTable
        label={t('incidents.title')}
        columns={columns}
        result={result}
        rowKey={(i) => i.id}
        empty={t('incidents.empty')}
      />
    </Page>
  );
}

/** The form to open an incident; from an alert (`fromAlert` in the URL) it links the alert and its place. */
function OpenIncident() {
  const { t } = useI18n();
  const url = useUrlState();
  const [, navigate] = useLocation();
  const fromAlert = url.get('fromAlert');
  const { values: form, field } = useFormValues({
    tenant: url.get('tenant'),
    stage: '',
    severity: '2',
    title: '',
    owner: '',
    note: '',
  });
  const [security, setSecurity] = useState(false);
  const severities = useQuery(['incident-severities'], async (api, signal) =>
    itemsOf<SeverityRule>(await api.get('/api/v1/incidents/severities', { signal })),
  );
  const open = useMutation(
    (api: ConsoleApi, body: Record<string, unknown>) =>
      shaped<IncidentRow>(api.post('/api/v1/incidents', { body: asTyped(body) })),
    { onSuccess: (i) => navigate(`/incidents/${encodeURIComponent(i.id)}`) },
  );
  const name = (level: number) => severities.data?.find((r) => r.level === level)?.name ?? '';
  const submit = () =>
    open.mutate({
      ...present({
        tenant: form.tenant,
        stage: form.stage,
        title: form.title,
        owner: form.owner,
        note: form.note,
      }),
      title: form.title,
      severity: Number(form.severity),
      ...(fromAlert ? { fromAlert } : {}),
      ...(security ? { security: true } : {}),
    });
  return (
    <section aria-labelledby="incident-open">
      <h2 id="incident-open">{t('incidents.open')}</h2>
      <Form label={t('incidents.open')} error={open.error} onSubmit={submit}>
        {fromAlert ? (
          <p>
            {t('incidents.open.fromAlert')}:{' '}
            <Link href={`/alerts/${encodeURIComponent(fromAlert)}`}>{fromAlert}</Link>
          </p>
        ) : null}
        <TextField {...field('title')} label={t('incidents.open.title')} required />
        <SelectField
          {...field('severity')}
          label={t('incidents.open.severity')}
          options={severityLevels.map((level) => ({
            value: String(level),
            label: t('incidents.severity', { level, name: name(level) }),
          }))}
        />
        <TextField {...field('tenant')} label={t('incidents.open.tenant')} />
        <TextField {...field('stage')} label={t('incidents.open.stage')} />
        <TextField {...field('owner')} label={t('incidents.open.owner')} />
        <TextField {...field('note')} label={t('incidents.open.note')} />
        <label className="inline">
          <input
            type="checkbox"
            name="security"
            checked={security}
            onChange={(event) => setSecurity(event.target.checked)}
          />{' '}
          {t('incidents.open.security')}
        </label>
        <div className="actions">
          <Button onClick={() => url.set({ new: null, fromAlert: null })}>{t('ui.cancel')}</Button>
          <Button type="submit" variant="primary" busy={open.pending}>
            {t('incidents.open')}
          </Button>
        </div>
      </Form>
    </section>
  );
}
