import { useState } from 'react';
import { Link, useParams } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { ErrorBanner, Page, StatusBadge } from '../../ui/index.ts';
import { ConfirmAction, Facts, Flash, shaped } from '../ops-kit/kit.tsx';
import { place } from '../ops-kit/format.ts';
import { NoticeForm, PostmortemEditor, UpdateForm } from './IncidentForms.tsx';
import { stateOf, type IncidentDetail as Detail, type IncidentRow, type Postmortem } from './types.ts';

/**
 * One incident: its facts, notice deadlines, timeline (updates, alerts,
 * notifications, healing), and what an operator does next: post an update,
 * write the post-mortem, confirm a breach and record notices, close it.
 */
export default function IncidentDetail() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const { id = '' } = useParams<{ id: string }>();
  const [flash, setFlash] = useState<string | null>(null);
  const incident = useQuery(
    ['incident', id],
    (api, signal) => shaped<Detail>(api.get('/api/v1/incidents/{id}', { params: { id }, signal })),
    {
      topics: ['incidents', 'alerts'],
    },
  );
  const done = (text: string) => {
    setFlash(text);
    incident.refetch();
  };
  const i = incident.data;
  const writable = can('tenants.write') && i !== undefined && !i.closedAt;
  return (
    <Page
      title={i ? t('incidents.detail.title', { id, title: i.title }) : t('incidents.title')}
      crumbs={<Link href="/incidents">{t('incidents.title')}</Link>}
      actions={
        writable && i.status === 'resolved' ? (
          <ConfirmAction
            variant="primary"
            label={t('incidents.close')}
            title={t('incidents.close.confirm', { id })}
            run={(api) => shaped<IncidentRow>(api.post('/api/v1/incidents/{id}/close', { params: { id } }))}
            onDone={() => done(t('incidents.closed', { id }))}
          />
        ) : null
      }
    >
      <Flash text={flash} />
      <ErrorBanner error={incident.error} />
      {i ? (
        <>
          <p>
            <StatusBadge
              state={t(`incidents.status.${stateOf(i)}`)}
              tone={i.closedAt || i.status === 'resolved' ? 'good' : 'bad'}
            />{' '}
            {t('incidents.severity', { level: i.severity, name: i.severityName })}
          </p>
          <Facts
            label={t('incidents.title')}
            items={[
              [t('incidents.col.place'), place(i.tenant, i.stage)],
              [t('incidents.col.owner'), i.owner ?? '–'],
              [
                t('incidents.col.opened'),
                t('incidents.detail.openedBy', { who: i.openedBy, at: formatDate(i.openedAt) }),
              ],
              [t('incidents.detail.resolvedAt'), formatDate(i.resolvedAt)],
              [
                t('incidents.detail.closedAt'),
                i.closedAt ? `${formatDate(i.closedAt)} · ${i.closedBy ?? ''}` : '–',
              ],
              [
                t('incidents.alerts'),
                i.alerts.length === 0
                  ? '–'
                  : i.alerts.map((a) => (
                      <Link key={a.id} href={`/alerts/${encodeURIComponent(a.id)}`}>
                        {`#${a.id} `}
                      </Link>
                    )),
              ],
            ]}
          />
          <Deadlines incident={i} writable={writable} onDone={done} />
          {writable ? <UpdateForm incident={i} onDone={done} /> : null}
          <section aria-labelledby="incident-postmortem">
            <h2 id="incident-postmortem">{t('incidents.postmortem')}</h2>
            {i.postmortemRequired && !i.postmortem ? (
              <p className="banner banner-warn">
                {t('incidents.postmortem.required', { level: i.severity })}
              </p>
            ) : null}
            {i.postmortem ? (
              <PostmortemView
                postmortem={i.postmortem}
                by={i.postmortemBy ?? ''}
                at={formatDate(i.postmortemAt)}
              />
            ) : null}
            {writable ? <PostmortemEditor incident={i} onDone={done} /> : null}
          </section>
          <section aria-labelledby="incident-timeline">
            <h2 id="incident-timeline">{t('incidents.detail.timeline')}</h2>
            <ol className="timeline">
              {i.timeline.map((entry) => (
                <li key={`${entry.ref}-${entry.kind}-${entry.at}`}>
                  <time dateTime={entry.at}>{formatDate(entry.at)}</time>{' '}
                  <span className="muted">{entry.source}</span> {entry.text}
                  {entry.by ? <span className="muted"> · {entry.by}</span> : null}
                  {entry.public ? (
                    <span className="badge badge-idle">{t('incidents.detail.public')}</span>
                  ) : null}
                </li>
              ))}
            </ol>
          </section>
        </>
      ) : null}
    </Page>
  );
}

function Deadlines(props: {
  readonly incident: IncidentRow;
  readonly writable: boolean;
  readonly onDone: (text: string) => void;
}) {
  const { t, formatDate } = useI18n();
  const i = props.incident;
  if (!i.security) return null;
  return (
    <section aria-labelledby="incident-deadlines">
      <h2 id="incident-deadlines">{t('incidents.detail.deadlines')}</h2>
      {i.deadlines.length === 0 ? <p className="muted">{t('incidents.detail.noDeadlines')}</p> : null}
      <ul>
        {i.deadlines.map((d) => (
          <li key={d.party}>
            <strong>{t(`incidents.deadline.${d.party}`)}</strong>:{' '}
            {t('incidents.deadline.due', { at: formatDate(d.due) })}{' '}
            <StatusBadge
              state={t(`incidents.deadline.state.${d.state}`)}
              tone={d.state === 'notified' ? 'good' : d.state === 'open' ? 'warn' : 'bad'}
            />
            {d.notifiedAt
              ? ` ${t('incidents.deadline.notifiedBy', { who: d.notifiedWho ?? '', at: formatDate(d.notifiedAt) })}`
              : null}
          </li>
        ))}
      </ul>
      {props.writable && !i.breachConfirmedAt ? (
        <ConfirmAction
          danger
          label={t('incidents.breach.confirm')}
          title={t('incidents.breach.confirmText')}
          run={(api) => api.post('/api/v1/incidents/{id}/breach', { params: { id: i.id }, body: {} })}
          onDone={() => props.onDone(t('incidents.breach.confirmed'))}
        />
      ) : null}
      {props.writable && i.breachConfirmedAt ? <NoticeForm incident={i} onDone={props.onDone} /> : null}
    </section>
  );
}

function PostmortemView(props: {
  readonly postmortem: Postmortem;
  readonly by: string;
  readonly at: string;
}) {
  const { t } = useI18n();
  const p = props.postmortem;
  return (
    <div className="postmortem">
      <p className="muted">{t('incidents.postmortem.by', { who: props.by, at: props.at })}</p>
      <Facts
        label={t('incidents.postmortem')}
        items={[
          [t('incidents.postmortem.cause'), p.cause],
          [t('incidents.postmortem.impactSummary'), p.impact.summary],
          [t('incidents.postmortem.slaMinutes'), String(p.impact.slaMinutes)],
        ]}
      />
      <h3>{t('incidents.postmortem.actions')}</h3>
      <ul>
        {p.actions.map((a) => (
          <li key={`${a.what}-${a.owner}`}>{`${a.what} · ${a.owner} · ${a.due}`}</li>
        ))}
      </ul>
      {p.checks.length > 0 ? (
        <>
          <h3>{t('incidents.postmortem.checks')}</h3>
          <ul>
            {p.checks.map((c) => (
              <li key={c.what}>{c.why ? `${c.what} · ${c.why}` : c.what}</li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}
