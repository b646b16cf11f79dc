import { useState } from 'react';
import type { ConsoleApi } from '../../app/api.ts';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { useUrlState } from '../../app/url.ts';
import { Button, ErrorBanner, Form, SelectField, TextField } from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';
import { Facts, Flash, shaped, asTyped } from '../ops-kit/kit.tsx';

interface BackupPolicy {
  readonly tenant: string;
  readonly policy: {
    readonly full: string;
    readonly diff: string | null;
    readonly incr: string | null;
    readonly retainDays: number;
    readonly exports: string | null;
  };
  readonly isDefault: boolean;
  readonly updatedBy: string | null;
  readonly updatedAt: string | null;
}

interface SlaPolicy {
  readonly current: {
    readonly version: number;
    readonly target: number;
    readonly period: string;
    readonly timeZone: string;
    readonly serviceTime: string;
  } | null;
}

interface Terms {
  readonly customerNoticeHours: number;
  readonly authorityNoticeHours: number;
  readonly fromContract: boolean;
}

/** A number when it is one, else the text as typed: the API's message then names what was given. */
const numeric = (text: string): number | string => (/^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text);

/** A tenant's policies (the tenant in the URL): backups, SLA, breach notice terms; each editable by who may. */
export function TenantPolicies() {
  const { t } = useI18n();
  const url = useUrlState();
  const tenant = url.get('tenant');
  const [draft, setDraft] = useState(tenant);
  return (
    <>
      <Form label={t('settings.tenant')} onSubmit={() => url.set({ tenant: draft.trim() })}>
        <TextField name="tenant" label={t('settings.tenant')} value={draft} onValue={setDraft} />
        <Button type="submit">{t('settings.tab.policies')}</Button>
      </Form>
      {tenant === '' ? (
        <p className="muted">{t('settings.pickTenant')}</p>
      ) : (
        <Policies key={tenant} tenant={tenant} />
      )}
    </>
  );
}

function Policies(props: { readonly tenant: string }) {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const { tenant } = props;
  const [flash, setFlash] = useState<string | null>(null);
  const backup = useQuery(['backup-policy', tenant], (api, signal) =>
    shaped<BackupPolicy>(api.get('/api/v1/tenants/{tenant}/backup-policy', { params: { tenant }, signal })),
  );
  const sla = useQuery(
    ['sla-policy', tenant],
    (api, signal) =>
      shaped<SlaPolicy>(api.get('/api/v1/tenants/{tenant}/sla/policy', { params: { tenant }, signal })),
    {
      topics: ['sla-policies'],
    },
  );
  const terms = useQuery(['incident-terms', tenant], (api, signal) =>
    shaped<Terms>(api.get('/api/v1/tenants/{slug}/incident-terms', { params: { slug: tenant }, signal })),
  );
  const [backupForm, setBackupForm] = useState({ full: '', retainDays: '' });
  const [slaForm, setSlaForm] = useState({ target: '', serviceTime: '', timeZone: '' });
  const [hours, setHours] = useState('');
  const saveBackup = useMutation(
    (api: ConsoleApi, f: typeof backupForm) =>
      api.put('/api/v1/tenants/{tenant}/backup-policy', {
        params: { tenant },
        body: asTyped({
          ...(f.full ? { full: f.full } : {}),
          ...(f.retainDays ? { retainDays: numeric(f.retainDays) } : {}),
        }),
      }),
    {
      onSuccess: () => {
        setFlash(t('settings.backup.saved', { tenant }));
        backup.refetch();
      },
    },
  );
  const saveSla = useMutation(
    (api: ConsoleApi, f: typeof slaForm) =>
      api.put('/api/v1/tenants/{tenant}/sla/policy', {
        params: { tenant },
        body: asTyped({
          target: numeric(f.target),
          ...(f.serviceTime ? { serviceTime: f.serviceTime } : {}),
          ...(f.timeZone ? { timeZone: f.timeZone } : {}),
        }),
      }),
    {
      onSuccess: () => {
        setFlash(t('settings.sla.saved', { tenant }));
        sla.refetch();
      },
    },
  );
  const saveTerms = useMutation(
    (api: ConsoleApi, value: string) =>
      api.put('/api/v1/tenants/{slug}/incident-terms', {
        params: { slug: tenant },
        body: asTyped({ customerNoticeHours: numeric(value) }),
      }),
    {
      onSuccess: () => {
        setFlash(t('settings.terms.saved', { tenant }));
        terms.refetch();
      },
    },
  );
  const b = backup.data;
  const current = sla.data?.current;
  return (
    <>
      <Flash text={flash} />
      <section aria-labelledby="settings-backup">
        <h2 id="settings-backup">{t('settings.backup')}</h2>
        <ErrorBanner error={backup.error} />
        {b ? (
          <>
            {b.isDefault ? (
              <p className="muted">{t('settings.backup.default')}</p>
            ) : (
              <p className="muted">{`${b.updatedBy ?? ''} · ${formatDate(b.updatedAt)}`}</p>
            )}
            <Facts
              label={t('settings.backup')}
              items={[
                [t('settings.backup.full'), b.policy.full],
                [t('settings.backup.diff'), b.policy.diff ?? 'off'],
                [t('settings.backup.incr'), b.policy.incr ?? 'off'],
                [t('settings.backup.retainDays'), String(b.policy.retainDays)],
                [t('settings.backup.exports'), b.policy.exports ?? 'off'],
              ]}
            />
          </>
        ) : null}
        {can('tenants.write') ? (
          <Form
            label={t('settings.backup.save')}
            error={saveBackup.error}
            onSubmit={() => saveBackup.mutate(backupForm)}
          >
            <SelectField
              name="full"
              label={t('settings.backup.full')}
              value={backupForm.full}
              onValue={(full) => setBackupForm({ ...backupForm, full })}
              options={[
                { value: '', label: '–' },
                ...['daily', 'weekly'].map((value) => ({ value, label: value })),
              ]}
            />
            <TextField
              name="retainDays"
              label={t('settings.backup.retainDays')}
              inputMode="numeric"
              value={backupForm.retainDays}
              onValue={(retainDays) => setBackupForm({ ...backupForm, retainDays })}
            />
            <Button type="submit" busy={saveBackup.pending}>
              {t('settings.backup.save')}
            </Button>
          </Form>
        ) : null}
      </section>
      <section aria-labelledby="settings-sla">
        <h2 id="settings-sla">{t('settings.sla')}</h2>
        <ErrorBanner error={sla.error} />
        {sla.data && !current ? <p className="muted">{t('settings.sla.none')}</p> : null}
        {current ? (
          <Facts
            label={t('settings.sla')}
            items={[
              [t('settings.sla.target'), `${current.target} % (v${current.version})`],
              [t('settings.sla.period'), current.period],
              [t('settings.sla.serviceTime'), current.serviceTime],
              [t('settings.sla.zone'), current.timeZone],
            ]}
          />
        ) : null}
        {can('tenants.write') ? (
          <Form label={t('settings.sla.save')} error={saveSla.error} onSubmit={() => saveSla.mutate(slaForm)}>
            <TextField
              name="target"
              label={t('settings.sla.target')}
              inputMode="decimal"
              value={slaForm.target}
              onValue={(target) => setSlaForm({ ...slaForm, target })}
              required
            />
            <TextField
              name="serviceTime"
              label={t('settings.sla.serviceTime')}
              placeholder="daily 05:00-22:00"
              value={slaForm.serviceTime}
              onValue={(serviceTime) => setSlaForm({ ...slaForm, serviceTime })}
            />
            <TextField
              name="timeZone"
              label={t('settings.sla.zone')}
              placeholder="Europe/Berlin"
              value={slaForm.timeZone}
              onValue={(timeZone) => setSlaForm({ ...slaForm, timeZone })}
            />
            <Button type="submit" busy={saveSla.pending}>
              {t('settings.sla.save')}
            </Button>
          </Form>
        ) : null}
      </section>
      <section aria-labelledby="settings-terms">
        <h2 id="settings-terms">{t('settings.terms')}</h2>
        <ErrorBanner error={terms.error} />
        {terms.data ? (
          <Facts
            label={t('settings.terms')}
            items={[
              [t('settings.terms.customers'), String(terms.data.customerNoticeHours)],
              [t('settings.terms.authority'), String(terms.data.authorityNoticeHours)],
            ]}
          />
        ) : null}
        {can('tenants.write') ? (
          <Form
            label={t('settings.terms.save')}
            error={saveTerms.error}
            onSubmit={() => saveTerms.mutate(hours)}
          >
            <TextField
              name="customerNoticeHours"
              label={t('settings.terms.customers')}
              inputMode="numeric"
              value={hours}
              onValue={setHours}
              required
            />
            <Button type="submit" busy={saveTerms.pending}>
              {t('settings.terms.save')}
            </Button>
          </Form>
        ) : null}
      </section>
    </>
  );
}
