import { useState } from 'react';
import { useI18n } from '../../app/i18n.tsx';
import { useCan } from '../../app/session.tsx';
import { useUrlState } from '../../app/url.ts';
import {
  ConfirmAction,
  DataTable,
  FilterCheck,
  FormSection,
  Page,
  TextField,
  useFormState,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { Flash, asTyped } from '../ops-kit/kit.tsx';
import { place, present } from '../ops-kit/format.ts';
import type { SilenceRow } from './types.ts';

const emptyForm = { tenant: '', stage: '', for: '2h', reason: '' };

/** Silences (current and planned; with all=true also ended ones); add one, remove one. */
export default function SilenceList() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const url = useUrlState();
  const [flash, setFlash] = useState<string | null>(null);
  // From an alert: its place fills the form (`?tenant=&stage=`).
  const result = useTablePage('/api/v1/silences', { filters: ['all'], topics: ['silences'] });
  const add = useFormState(
    () => ({ ...emptyForm, tenant: url.get('tenant'), stage: url.get('stage') }),
    (api, values) => api.post('/api/v1/silences', { body: asTyped(present(values)) }),
    {
      onSuccess: (s) => {
        setFlash(t('silences.added', { id: s.id }));
        result.refetch();
      },
    },
  );
  const columns: Column<SilenceRow>[] = [
    {
      key: 'place',
      header: t('silences.col.place'),
      rowHeader: true,
      render: (s) => place(s.tenant, s.stage),
    },
    { key: 'from', header: t('silences.col.from'), render: (s) => formatDate(s.startsAt) },
    { key: 'until', header: t('silences.col.until'), render: (s) => formatDate(s.removedAt ?? s.endsAt) },
    { key: 'reason', header: t('silences.col.reason'), render: (s) => s.reason },
    { key: 'by', header: t('silences.col.by'), render: (s) => s.createdBy },
    {
      key: 'actions',
      header: t('alerts.col.actions'),
      render: (s) =>
        can('tenants.write') && !s.removedAt && Date.parse(s.endsAt) > Date.now() ? (
          <ConfirmAction
            label={t('silences.remove')}
            ariaLabel={`${t('silences.remove')}: ${place(s.tenant, s.stage)} (${s.id})`}
            title={t('silences.remove.confirm', { id: s.id })}
            danger
            run={(api) => api.delete('/api/v1/silences/{id}', { params: { id: s.id } })}
            onDone={() => {
              setFlash(t('silences.removed', { id: s.id }));
              result.refetch();
            }}
          />
        ) : null,
    },
  ];
  return (
    <Page title={t('silences.title')}>
      <Flash text={flash} />
      <FilterCheck name="all" label={t('silences.showEnded')} />
      <DataTable
        label={t('silences.title')}
        columns={columns}
        result={result}
        rowKey={(s) => s.id}
        empty={t('silences.empty')}
      />
      {can('tenants.write') ? (
        <FormSection
          id="silence-add"
          title={t('silences.add')}
          {...add.form}
          submitLabel={t('silences.add')}
          busy={add.pending}
        >
          <TextField {...add.field('tenant')} label={t('silences.tenant')} required />
          <TextField {...add.field('stage')} label={t('silences.stage')} />
          <TextField {...add.field('for')} label={t('silences.for')} />
          <TextField {...add.field('reason')} label={t('silences.reason')} required />
        </FormSection>
      ) : null}
    </Page>
  );
}
