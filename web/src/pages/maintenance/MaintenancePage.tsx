import type { paths } from '../../../../src/api/client/schema.ts';
import type { ListItem } from '../../../../src/api/client/typed.ts';
import { useState } from 'react';
import type { ConsoleApi } from '../../app/api.ts';
import { useMutation } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import {
  Button,
  DataTable,
  Form,
  Page,
  StatusBadge,
  TextField,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { place, present, windowState } from '../ops-kit/format.ts';
import { useI18n } from '../../app/i18n.tsx';
import { ConfirmAction, Flash, asTyped, FilterText, useFormValues, FilterCheck } from '../ops-kit/kit.tsx';

/** A maintenance window as the API returns it (the generated schema). */
type WindowRow = ListItem<paths, '/api/v1/maintenance-windows'>;

const emptyPlan = { tenant: '', stage: '', at: '', tz: 'Europe/Berlin', for: '2h', announce: '', reason: '' };
const tones = { planned: 'idle', current: 'warn', past: 'good', cancelled: 'idle' } as const;

/** Maintenance windows (current and planned; all=true also past), one tenant or all; plan one, end or cancel one. */
export default function MaintenancePage() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const [flash, setFlash] = useState<string | null>(null);
  const { values: plan, field, reset } = useFormValues(emptyPlan);
  const [emergency, setEmergency] = useState(false);
  const result = useTablePage('/api/v1/maintenance-windows', {
    filters: ['all', 'tenant'],
    topics: ['maintenance'],
  });
  const submit = useMutation(
    (api: ConsoleApi, body: Record<string, unknown>) =>
      api.post('/api/v1/maintenance-windows/plan', { body: asTyped(body) }),
    {
      onSuccess: (w) => {
        setFlash(t('maintenance.planned', { id: w.id }));
        reset();
        result.refetch();
      },
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
  const body = () => {
    const { announce, ...rest } = plan;
    return {
      ...present(rest),
      reason: plan.reason,
      ...(announce ? { announce: /^\d+$/.test(announce) ? Number(announce) : announce } : {}),
      ...(emergency ? { emergency: true } : {}),
    };
  };
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
        <section aria-labelledby="maintenance-plan">
          <h2 id="maintenance-plan">{t('maintenance.plan')}</h2>
          <Form label={t('maintenance.plan')} error={submit.error} onSubmit={() => submit.mutate(body())}>
            <TextField {...field('tenant')} label={t('maintenance.plan.tenant')} required />
            <TextField {...field('stage')} label={t('maintenance.plan.stage')} />
            <TextField
              {...field('at')}
              label={t('maintenance.plan.at')}
              placeholder="2026-12-20 22:00"
              required
            />
            <TextField {...field('tz')} label={t('maintenance.plan.tz')} />
            <TextField {...field('for')} label={t('maintenance.plan.for')} required />
            <TextField {...field('announce')} label={t('maintenance.plan.announce')} inputMode="numeric" />
            <TextField {...field('reason')} label={t('maintenance.plan.reason')} required />
            <label className="inline">
              <input
                type="checkbox"
                name="emergency"
                checked={emergency}
                onChange={(event) => setEmergency(event.target.checked)}
              />{' '}
              {t('maintenance.plan.emergency')}
            </label>
            <Button type="submit" variant="primary" busy={submit.pending}>
              {t('maintenance.plan')}
            </Button>
          </Form>
        </section>
      ) : null}
    </Page>
  );
}
