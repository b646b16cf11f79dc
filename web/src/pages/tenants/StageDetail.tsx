import { useEffect, useState } from 'react';
import { Link, useParams } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { useUrlState } from '../../app/url.ts';
import { ErrorBanner, ListTable, LogView, Page, Progress, StatusBadge, Tabs } from '../../ui/index.ts';
import { DeployButton, DeploymentProgress, RollbackButton } from './Deploy.tsx';
import { deploymentsOf, ofTenant, runtimeOf, tenantOf } from './data.ts';
import { keptLines, readLogs } from './logs.ts';
import { inFlight, stageHealth } from './types.ts';

const tabs = ['overview', 'processes', 'logs', 'deployments'] as const;

/** A stage: phase, release, files usage, processes, logs (follow) and deployments; the tab is in the URL. */
export default function StageDetail() {
  const { t, formatDate, formatNumber } = useI18n();
  const can = useCan();
  const url = useUrlState();
  const { tenant = '', stage = '' } = useParams<{ tenant: string; stage: string }>();
  const match = ofTenant(tenant);
  const [following, setFollowing] = useState(false);
  const tenantView = useQuery(['tenant', tenant], (api, signal) => tenantOf(api, tenant, signal), {
    topics: ['tenants', 'stages'],
    match,
  });
  const runtime = useQuery(['ps', tenant], (api, signal) => runtimeOf(api, tenant, signal), {
    topics: ['stages', 'deployments'],
    match,
    pollMs: following ? 1000 : 5000,
  });
  const deployments = useQuery(['deployments', tenant], (api, signal) => deploymentsOf(api, tenant, signal), {
    topics: ['deployments'],
    match,
    ...(following ? { pollMs: 1000 } : {}),
  });
  const ours = (deployments.data ?? []).filter((d) => d.stage === stage);
  const running = ours.some((d) => inFlight(d.status));
  useEffect(() => setFollowing(running), [running]);
  const refresh = () => {
    setFollowing(true);
    deployments.refetch();
  };
  const view = tenantView.data?.stages.find((s) => s.name === stage);
  const stageRuntime = runtime.data?.find((r) => r.stage === stage);
  const tab = (tabs as readonly string[]).includes(url.get('tab')) ? url.get('tab') : 'overview';
  const tenantHref = `/tenants/${encodeURIComponent(tenant)}`;
  return (
    <Page
      title={`${tenant} / ${stage}`}
      crumbs={
        <>
          <Link href="/tenants">{t('tenants.list.title')}</Link> › <Link href={tenantHref}>{tenant}</Link>
        </>
      }
      actions={
        can('releases.write') ? (
          <>
            <DeployButton tenant={tenant} stage={stage} onStarted={refresh} />
            {stageRuntime?.release ? (
              <RollbackButton tenant={tenant} stage={stage} onStarted={refresh} />
            ) : null}
          </>
        ) : null
      }
    >
      <ErrorBanner error={tenantView.error ?? runtime.error} />
      {ours[0] ? <DeploymentProgress deployment={ours[0]} /> : null}
      <Tabs
        label={t('stages.tabs')}
        tabs={tabs.map((key) => ({ key, label: t(`stages.tab.${key}`) }))}
        selected={tab}
        onSelect={(key) => url.set({ tab: key === 'overview' ? null : key })}
      >
        {tab === 'overview' ? (
          <dl className="facts">
            <dt>{t('tenants.field.phase')}</dt>
            <dd>
              <StatusBadge state={view?.phase ?? stageRuntime?.phase} />
            </dd>
            <dt>{t('stages.field.reason')}</dt>
            <dd>{view?.reason || '—'}</dd>
            <dt>{t('stages.field.health')}</dt>
            <dd>
              <StatusBadge state={stageHealth(stageRuntime)} />
            </dd>
            <dt>{t('stages.field.release')}</dt>
            <dd>{stageRuntime?.release ?? '—'}</dd>
            <dt>{t('stages.field.url')}</dt>
            <dd>{stageRuntime?.url ?? '—'}</dd>
            <dt>{t('stages.field.database')}</dt>
            <dd>{view?.database ?? '—'}</dd>
            <dt>{t('stages.field.files')}</dt>
            <dd>
              {stageRuntime?.filesBytes === null || stageRuntime?.filesBytes === undefined ? (
                '—'
              ) : stageRuntime.filesQuotaBytes ? (
                <Progress
                  label={t('stages.files.ofQuota', {
                    used: formatNumber(stageRuntime.filesBytes),
                    quota: formatNumber(stageRuntime.filesQuotaBytes),
                  })}
                  value={stageRuntime.filesBytes}
                  max={stageRuntime.filesQuotaBytes}
                />
              ) : (
                t('stages.files.bytes', { used: formatNumber(stageRuntime.filesBytes) })
              )}
            </dd>
            <dt>{t('stages.field.readyAt')}</dt>
            <dd>{formatDate(view?.readyAt)}</dd>
          </dl>
        ) : null}
        {tab === 'processes' ? (
          <>
            <ListTable
              label={t('stages.tab.processes')}
              cards
              always
              rows={stageRuntime?.processes ?? []}
              rowKey={(p) => `${p.process}.${p.instance}`}
              columns={[
                {
                  key: 'name',
                  header: t('stages.process.name'),
                  rowHeader: true,
                  render: (p) => `${p.process}.${p.instance}`,
                },
                { key: 'pid', header: t('stages.process.pid'), render: (p) => p.pid ?? '—' },
                {
                  key: 'phase',
                  header: t('tenants.field.phase'),
                  render: (p) => <StatusBadge state={p.phase} />,
                },
                {
                  key: 'health',
                  header: t('stages.field.health'),
                  render: (p) => (
                    <StatusBadge
                      state={p.healthy === null ? 'unknown' : p.healthy ? 'healthy' : 'unhealthy'}
                    />
                  ),
                },
                { key: 'restarts', header: t('stages.process.restarts'), render: (p) => p.restarts },
                {
                  key: 'uptime',
                  header: t('stages.process.uptime'),
                  render: (p) => (p.uptimeSeconds === null ? '—' : `${formatNumber(p.uptimeSeconds)} s`),
                },
                { key: 'release', header: t('stages.field.release'), render: (p) => p.release },
              ]}
            />
            {stageRuntime && stageRuntime.processes.length === 0 ? (
              <p className="muted">{t('stages.process.none')}</p>
            ) : null}
          </>
        ) : null}
        {tab === 'logs' ? <StageLogs tenant={tenant} stage={stage} /> : null}
        {tab === 'deployments' ? (
          <ul className="plain">
            {ours.map((d) => (
              <li key={d.id}>
                <StatusBadge state={d.status} /> {d.app} {d.version} · {d.actor} · {formatDate(d.createdAt)}
                {d.reason ? <span className="muted"> · {d.reason}</span> : null}
              </li>
            ))}
          </ul>
        ) : null}
      </Tabs>
    </Page>
  );
}

function StageLogs(props: { readonly tenant: string; readonly stage: string }) {
  const { t } = useI18n();
  const url = useUrlState();
  const follow = url.get('follow') !== 'false';
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    const controller = new AbortController();
    setLines([]);
    setError(undefined);
    readLogs(props.tenant, props.stage, { follow, lines: 200, signal: controller.signal }, (entries) =>
      setLines((previous) =>
        [...previous, ...entries.map((e) => `${e.process}.${e.instance}  ${e.line}`)].slice(-keptLines),
      ),
    ).catch((caught: unknown) => {
      if (!controller.signal.aborted) setError(caught);
    });
    return () => controller.abort();
  }, [props.tenant, props.stage, follow]);
  return (
    <>
      <ErrorBanner error={error} />
      <LogView
        lines={lines}
        follow={follow}
        onFollow={(next) => url.set({ follow: next ? null : 'false' })}
        label={t('stages.tab.logs')}
      />
    </>
  );
}
