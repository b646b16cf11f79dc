import { useState } from 'react';
import type { paths } from '../../../../src/api/client/schema.ts';
import type { ListItem } from '../../../../src/api/client/typed.ts';
import { useI18n } from '../../app/i18n.tsx';
import { useCan } from '../../app/session.tsx';
import {
  CheckField,
  ConfirmAction,
  DataTable,
  FilterCheck,
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
import { place, present, windowState } from '../ops-kit/format.ts';

/** A maintenance window as the API returns it (the generated schema). */
type WindowRow = ListItem<paths, '/api/v1/maintenance-windows'>;

const emptyPlan = {
  tenant: '',
  stage: '',
  at: '',
  tz: 'Europe/Berlin',
  for: '2h',
  announce: '',
  reason: '',
  emergency: false,
};
const tones = { planned: 'idle', current: 'warn', past: 'good', cancelled: 'idle' } as const;

/** Maintenance windows (current and planned; all=true also past), one tenant or all; plan one, end or cancel one. */
export default function MaintenancePage() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const [flash, setFlash] = useState<string | null>(null);
  const result = useTablePage('/api/v1/maintenance-windows', {
    filters: ['all', 'tenant'],
    topics: ['maintenance'],
  });
  const submit = useFormState(
    emptyPlan,
    (api, { announce, emergency, ...rest }) =>
      api.post('/api/v1/maintenance-windows/plan', {
        body: asTyped({
          ...present(rest),
          reason: rest.reason,
          ...(announce ? { announce: numberOrTyped(announce) } : {}),
          ...(emergency ? { emergency: true } : {}),
        }),
      }),
    {
      onSuccess: (w) => {
        setFlash(t('maintenance.planned', { id: w.id }));
        result.refetch();
      },
      keep: ['emergency'],
    },
  );
  const now = new Date();
  const columns: Column<WindowRow>[] = [
    {
      key: 'place',
      header: t('maintenance.col.place'),
      rowHeader: true,
      render: (w) => place(w.tenant, w.stage),
    },
    { key: 'from', header: t('maintenance.col.from'), render: (w) => formatDate(w.startsAt) },
    { key: 'until', header: t('maintenance.col.until'), render: (w) => formatDate(w.endsAt) },
    {
      key: 'state',
      header: t('maintenance.col.state'),
      render: (w) => {
        const state = windowState(w, now);
        return <StatusBadge state={t(`maintenance.state.${state}`)} tone={tones[state]} />;
      },
    },
    { key: 'kind', header: t('maintenance.col.kind'), render: (w) => w.kind },
    { key: 'reason', header: t('maintenance.col.reason'), render: (w) => w.reason },
    {
      key: 'announced',
      header: t('maintenance.col.announced'),
      render: (w) => (w.announcedAt ? formatDate(w.announcedAt) : t('maintenance.notAnnounced')),
    },
    {
      key: 'actions',
      header: t('maintenance.col.actions'),
      render: (w) => {
        const state = windowState(w, now);
        if (!can('tenants.write') || (state !== 'planned' && state !== 'current')) return null;
        const verb = state === 'planned' ? 'cancel' : 'end';
        return (
          <ConfirmAction
            danger={verb === 'cancel'}
            label={t(`maintenance.${verb}`)}
            ariaLabel={`${t(`maintenance.${verb}`)}: ${place(w.tenant, w.stage)} (${w.id})`}
            title={t(`maintenance.${verb}.confirm`, { id: w.id })}
            run={(api) => api.post(`/api/v1/maintenance-windows/{id}/${verb}`, { params: { id: w.id } })}
            onDone={() => {
              setFlash(t('maintenance.ended', { id: w.id }));
              result.refetch();
            }}
          />
        );
      },
    },
  ];
  return (
    <Page title={t('maintenance.title')}>
      <Flash text={flash} />
      <div role="search" className="filters">
        <FilterText name="tenant" label={t('maintenance.filter.tenant')} />
        <FilterCheck name="all" label={t('maintenance.showPast')} />
      </div>
      <DataTable
        label={t('maintenance.title')}
        columns={columns}
        result={result}
        rowKey={(w) => w.id}
        empty={t('maintenance.empty')}
      />
      {can('tenants.write') ? (
        <FormSection
          id="maintenance-plan"
          title={t('maintenance.plan')}
          {...submit.form}
          submitLabel={t('maintenance.plan')}
          busy={submit.pending}
        >
          <TextField {...submit.field('tenant')} label={t('maintenance.plan.tenant')} required />
          <TextField {...submit.field('stage')} label={t('maintenance.plan.stage')} />
          <TextField
            {...submit.field('at')}
            label={t('maintenance.plan.at')}
            placeholder="2026-12-20 22:00"
            required
          />
          <TextField {...submit.field('tz')} label={t('maintenance.plan.tz')} />
          <TextField {...submit.field('for')} label={t('maintenance.plan.for')} required />
          <TextField
            {...submit.field('announce')}
            label={t('maintenance.plan.announce')}
            inputMode="numeric"
          />
          <TextField {...submit.field('reason')} label={t('maintenance.plan.reason')} required />
          <CheckField {...submit.check('emergency')} label={t('maintenance.plan.emergency')} />
        </FormSection>
      ) : null}
    </Page>
  );
}
