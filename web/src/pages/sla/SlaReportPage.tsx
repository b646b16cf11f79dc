import { useState } from 'react';
import type { ConsoleApi } from '../../app/api.ts';
import { itemsOf } from '../../app/api.ts';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { useUrlState } from '../../app/url.ts';
import { Button, ErrorBanner, Form, Page, StatusBadge, TextField } from '../../ui/index.ts';
import { monthOf } from '../ops-kit/format.ts';
import { useI18n } from '../../app/i18n.tsx';
import { ConfirmAction, Facts, Flash, useFormValues } from '../ops-kit/kit.tsx';
import { reportUrl, type Exclusion, type SlaReport } from './types.ts';

const tones: Readonly<Record<string, 'good' | 'warn' | 'bad' | 'idle'>> = {
  met: 'good',
  'on-track': 'good',
  'at-risk': 'warn',
  missed: 'bad',
};

/**
 * A tenant's SLA report of a period (both in the URL): the figures (frozen
 * ones for a frozen period, with the hash of their inputs), outages, the
 * policy and exclusions; download it as PDF. A closed period is frozen by the
 * first report a day after it ends (the API does it; the page says when), or
 * earlier by an operator's Freeze once the exclusions are reviewed.
 */
export default function SlaReportPage() {
  const { t } = useI18n();
  const url = useUrlState();
  const tenant = url.get('tenant');
  const period = url.get('period');
  const [draft, setDraft] = useState({ tenant, period: period || monthOf(new Date()) });
  const ready = tenant !== '' && period !== '';
  const report = useQuery(
    ['sla-report', tenant, period],
    (api, signal) =>
      api.get('/api/v1/tenants/{tenant}/sla/reports/{period}', {
        params: { tenant, period },
        signal,
      }),
    { enabled: ready, topics: ['sla-reports', 'sla-policies', 'checks', 'maintenance'] },
  );
  return (
    <Page title={t('sla.title')}>
      <Form
        label={t('sla.show')}
        onSubmit={() => url.set({ tenant: draft.tenant.trim(), period: draft.period.trim() })}
      >
        <TextField
          name="tenant"
          label={t('sla.tenant')}
          value={draft.tenant}
          onValue={(value) => setDraft({ ...draft, tenant: value })}
          required
        />
        <TextField
          name="period"
          label={t('sla.period')}
          value={draft.period}
          onValue={(value) => setDraft({ ...draft, period: value })}
          required
        />
        <Button type="submit" variant="primary">
          {t('sla.show')}
        </Button>
      </Form>
      {!ready ? <p className="muted">{t('sla.pick')}</p> : null}
      <ErrorBanner error={report.error} />
      {ready && report.data ? <Report report={report.data} onFrozen={() => report.refetch()} /> : null}
      {ready ? <PolicyAndExclusions tenant={tenant} /> : null}
    </Page>
  );
}

function Report(props: { readonly report: SlaReport; readonly onFrozen: () => void }) {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const [flash, setFlash] = useState<string | null>(null);
  const r = props.report;
  const f = r.figures;
  const percent = (value: number | null) => (value === null ? '–' : `${value} %`);
  return (
    <section aria-labelledby="sla-report">
      <h2 id="sla-report">{`${r.tenant} · ${r.period}`}</h2>
      <p className="actions">
        <a
          className="btn btn-primary"
          href={reportUrl(r.tenant, r.period, 'pdf')}
          download={`sla-${r.tenant}-${r.period}.pdf`}
        >
          {t('sla.download')}
        </a>{' '}
        <a
          className="btn btn-secondary"
          href={reportUrl(r.tenant, r.period, 'html')}
          target="_blank"
          rel="noreferrer"
        >
          {t('sla.html')}
        </a>
      </p>
      <Facts
        label={t('sla.title')}
        items={[
          [t('sla.availability'), percent(f.availability)],
          [t('sla.target'), `${f.target} %`],
          [
            t('sla.status'),
            <StatusBadge key="status" state={t(`sla.status.${f.status}`)} tone={tones[f.status] ?? 'idle'} />,
          ],
          [t('sla.budgetLeft'), t('sla.minutes', { n: f.budgetLeftMinutes })],
          [
            t('sla.span', { from: formatDate(f.from), to: formatDate(f.to) }),
            t('sla.asOf', { at: formatDate(f.asOf) }),
          ],
          ...(f.projected ? [[t('sla.projected'), percent(f.projected.availability)] as const] : []),
        ]}
      />
      <Flash text={flash} />
      {r.frozen ? (
        <Facts
          label={t('sla.frozenTitle')}
          items={[
            [t('sla.frozenAt'), formatDate(r.frozen.frozenAt)],
            [t('sla.frozenBy'), r.frozen.frozenBy],
            [t('sla.fingerprint'), <code key="hash">{r.frozen.inputsSha256}</code>],
          ]}
        />
      ) : !f.closed ? (
        <p className="muted">{t('sla.notFrozen', { at: formatDate(f.to) })}</p>
      ) : (
        <>
          <p>{r.freezesAt ? t('sla.freezesAt', { at: formatDate(r.freezesAt) }) : null}</p>
          {can('tenants.write') ? (
            <ConfirmAction
              label={t('sla.freeze')}
              title={t('sla.freeze.title', { tenant: r.tenant, period: r.period })}
              variant="primary"
              run={(api) =>
                api.post('/api/v1/tenants/{tenant}/sla/reports/{period}/freeze', {
                  params: { tenant: r.tenant, period: r.period },
                })
              }
              onDone={(frozen) => {
                setFlash(t('sla.frozenNow', { period: frozen.period }));
                props.onFrozen();
              }}
            >
              <p>{t('sla.freeze.explain')}</p>
            </ConfirmAction>
          ) : null}
        </>
      )}
      {r.frozen?.evidenceChanged ? (
        <p className="banner banner-warn" role="alert">
          {t('sla.evidenceChanged', {
            availability: r.frozen.recomputed?.availability ?? '–',
            status: r.frozen.recomputed?.status ?? '',
          })}
        </p>
      ) : null}
      <p className="muted">
        {t('sla.inputs')} <code>{r.inputsSha256}</code>
      </p>
      <h3>{t('sla.outages')}</h3>
      {r.outages.length === 0 ? (
        <p className="muted">{t('sla.noOutages')}</p>
      ) : (
        <table aria-label={t('sla.outages')}>
          <thead>
            <tr>
              <th scope="col">{t('sla.outage.from')}</th>
              <th scope="col">{t('sla.outage.until')}</th>
              <th scope="col">{t('sla.outage.minutes')}</th>
              <th scope="col">{t('sla.outage.counted')}</th>
              <th scope="col">{t('sla.outage.why')}</th>
            </tr>
          </thead>
          <tbody>
            {r.outages.map((o) => (
              <tr key={o.start}>
                <td>{formatDate(o.start)}</td>
                <td>{o.ongoing ? '…' : formatDate(o.end)}</td>
                <td>{o.downMinutes}</td>
                <td>{o.inPeriod.counted}</td>
                <td>{o.clause === 'counted' ? '–' : o.clause}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function PolicyAndExclusions(props: { readonly tenant: string }) {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const { tenant } = props;
  const [flash, setFlash] = useState<string | null>(null);
  const { values: form, field, reset } = useFormValues({ from: '', until: '', reason: '' });
  const policy = useQuery(
    ['sla-policy', tenant],
    (api, signal) => api.get('/api/v1/tenants/{tenant}/sla/policy', { params: { tenant }, signal }),
    { topics: ['sla-policies'] },
  );
  const exclusions = useQuery(
    ['sla-exclusions', tenant],
    async (api, signal) =>
      itemsOf<Exclusion>(
        await api.get('/api/v1/tenants/{tenant}/sla/exclusions', { params: { tenant }, signal }),
      ),
    { topics: ['sla-policies'] },
  );
  const exclude = useMutation(
    (api: ConsoleApi, body: typeof form) =>
      api.post('/api/v1/tenants/{tenant}/sla/exclusions', { params: { tenant }, body }),
    {
      onSuccess: () => {
        setFlash(t('sla.excluded'));
        reset();
        exclusions.refetch();
      },
    },
  );
  const current = policy.data?.current;
  return (
    <>
      <section aria-labelledby="sla-policy">
        <h2 id="sla-policy">{t('sla.policy')}</h2>
        <ErrorBanner error={policy.error} />
        {policy.data && !current ? <p className="muted">{t('sla.policy.none')}</p> : null}
        {current ? (
          <Facts
            label={t('sla.policy')}
            items={[
              [
                t('sla.policy.version', {
                  version: current.version,
                  from: formatDate(current.effectiveFrom),
                }),
                '',
              ],
              [t('sla.target'), `${current.target} %`],
              [t('sla.policy.serviceTime'), current.serviceTime],
              [t('sla.policy.zone'), current.timeZone],
            ]}
          />
        ) : null}
      </section>
      <section aria-labelledby="sla-exclusions">
        <h2 id="sla-exclusions">{t('sla.exclusions')}</h2>
        <Flash text={flash} />
        <ErrorBanner error={exclusions.error} />
        {exclusions.data?.length === 0 ? <p className="muted">{t('sla.exclusions.none')}</p> : null}
        <ul>
          {exclusions.data?.map((e) => (
            <li key={e.id}>{`${formatDate(e.from)} – ${formatDate(e.until)}: ${e.reason} (${e.by})`}</li>
          ))}
        </ul>
        {can('tenants.write') ? (
          <Form label={t('sla.exclude')} error={exclude.error} onSubmit={() => exclude.mutate(form)}>
            <TextField {...field('from')} label={t('sla.exclude.from')} placeholder="2026-12-01 10:00" />
            <TextField {...field('until')} label={t('sla.exclude.until')} placeholder="2026-12-01 11:00" />
            <TextField {...field('reason')} label={t('sla.exclude.reason')} />
            <Button type="submit" busy={exclude.pending}>
              {t('sla.exclude')}
            </Button>
          </Form>
        ) : null}
      </section>
    </>
  );
}
