import { useEffect, useState } from 'react';
import { Link, useParams } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import {
  Button,
  ErrorBanner,
  Form,
  ListTable,
  Page,
  StatusBadge,
  TextField,
  useFormState,
} from '../../ui/index.ts';
import { DeployButton, DeploymentProgress, PromoteForm, RollbackButton } from './Deploy.tsx';
import { deploymentsOf, ofTenant, runtimeOf, tenantOf } from './data.ts';
import { inFlight, stageHealth, type StageRow } from './types.ts';

/** A tenant: its facts, its stages (phase, reason, health, release), deployments; live. */
export default function TenantDetail() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const { tenant: slug = '' } = useParams<{ tenant: string }>();
  const match = ofTenant(slug);
  const tenant = useQuery(['tenant', slug], (api, signal) => tenantOf(api, slug, signal), {
    topics: ['tenants', 'stages'],
    match,
  });
  // While a deployment runs, follow it closely: not every step of it is a row the events announce.
  const [following, setFollowing] = useState(false);
  const runtime = useQuery(['ps', slug], (api, signal) => runtimeOf(api, slug, signal), {
    topics: ['stages', 'deployments'],
    match,
    pollMs: following ? 1000 : 5000,
  });
  const deployments = useQuery(['deployments', slug], (api, signal) => deploymentsOf(api, slug, signal), {
    topics: ['deployments'],
    match,
    ...(following ? { pollMs: 1000 } : {}),
  });
  const running = (deployments.data ?? []).some((d) => inFlight(d.status));
  useEffect(() => setFollowing(running), [running]);
  const refresh = () => {
    setFollowing(true);
    deployments.refetch();
    runtime.refetch();
  };
  const view = tenant.data;
  const stages: readonly StageRow[] = view?.stages.filter((stage) => stage.desired === 'present') ?? [];
  const runtimeOfStage = (name: string) => runtime.data?.find((r) => r.stage === name);
  const latest = deployments.data?.[0];
  return (
    <Page
      title={view ? `${view.displayName || view.slug}` : t('tenants.detail.title')}
      crumbs={<Link href="/tenants">{t('tenants.list.title')}</Link>}
    >
      <ErrorBanner error={tenant.error} />
      {view ? (
        <section className="panel" aria-label={t('tenants.detail.facts')}>
          <dl className="facts">
            <dt>{t('tenants.field.slug')}</dt>
            <dd>{view.slug}</dd>
            <dt>{t('tenants.field.phase')}</dt>
            <dd>
              <StatusBadge state={view.phase} />
            </dd>
            <dt>{t('tenants.field.tier')}</dt>
            <dd>{view.tier}</dd>
            <dt>{t('tenants.field.region')}</dt>
            <dd>
              {view.region} ({view.geography})
            </dd>
            <dt>{t('tenants.field.createdAt')}</dt>
            <dd>{formatDate(view.createdAt)}</dd>
          </dl>
        </section>
      ) : null}
      <h2>{t('tenants.field.stages')}</h2>
      <ListTable
        label={t('tenants.field.stages')}
        cards
        always
        rows={stages}
        rowKey={(stage) => stage.name}
        rowData={(stage) => ({ 'data-stage': stage.name })}
        columns={[
          {
            key: 'name',
            header: t('stages.field.name'),
            rowHeader: true,
            render: (stage) => (
              <Link href={`/tenants/${encodeURIComponent(slug)}/stages/${encodeURIComponent(stage.name)}`}>
                {stage.name}
              </Link>
            ),
          },
          {
            key: 'phase',
            header: t('tenants.field.phase'),
            render: (stage) => <StatusBadge state={stage.phase} />,
          },
          {
            key: 'reason',
            header: t('stages.field.reason'),
            className: 'wrap',
            render: (stage) => stage.reason,
          },
          {
            key: 'health',
            header: t('stages.field.health'),
            render: (stage) => <StatusBadge state={stageHealth(runtimeOfStage(stage.name))} />,
          },
          {
            key: 'release',
            header: t('stages.field.release'),
            render: (stage) => runtimeOfStage(stage.name)?.release ?? '—',
          },
          can('releases.write') && {
            key: 'actions',
            header: t('stages.field.actions'),
            render: (stage) => (
              <div className="actions">
                <DeployButton tenant={slug} stage={stage.name} onStarted={refresh} />
                {runtimeOfStage(stage.name)?.release ? (
                  <RollbackButton tenant={slug} stage={stage.name} onStarted={refresh} />
                ) : null}
              </div>
            ),
          },
        ]}
      />
      {can('tenants.write') ? <AddStage tenant={slug} onAdded={tenant.refetch} /> : null}
      {latest ? <DeploymentProgress deployment={latest} /> : null}
      {can('releases.write') && stages.length > 1 ? (
        <section className="panel">
          <h2>{t('promote.title')}</h2>
          <PromoteForm tenant={slug} stages={stages.map((s) => s.name)} onStarted={refresh} />
        </section>
      ) : null}
      <h2>{t('deployments.title')}</h2>
      <ListTable
        label={t('deployments.title')}
        cards
        always
        result={{ error: deployments.error, loading: false }}
        rows={(deployments.data ?? []).slice(0, 20)}
        rowKey={(d) => d.id}
        columns={[
          { key: 'stage', header: t('stages.field.name'), render: (d) => d.stage },
          { key: 'release', header: t('stages.field.release'), render: (d) => `${d.app} ${d.version}` },
          { key: 'status', header: t('deployments.status'), render: (d) => <StatusBadge state={d.status} /> },
          { key: 'actor', header: t('deployments.actor'), render: (d) => d.actor },
          { key: 'created', header: t('tenants.field.createdAt'), render: (d) => formatDate(d.createdAt) },
        ]}
      />
    </Page>
  );
}

function AddStage(props: { readonly tenant: string; readonly onAdded: () => void }) {
  const { t } = useI18n();
  const add = useFormState(
    { name: '' },
    (api, body) => api.post('/api/v1/tenants/{tenant}/stages', { params: { tenant: props.tenant }, body }),
    { onSuccess: props.onAdded },
  );
  return (
    <Form {...add.form} label={t('stages.add.title')} className="form form-row">
      <TextField {...add.field('name')} label={t('stages.add.name')} />
      <Button type="submit" busy={add.pending}>
        {t('stages.add.submit')}
      </Button>
    </Form>
  );
}
