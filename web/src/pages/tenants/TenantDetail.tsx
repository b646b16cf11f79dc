import { useEffect, useState } from 'react';
import { Link, useParams } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { Button, ErrorBanner, Form, Page, StatusBadge, TextField } from '../../ui/index.ts';
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
      <div className="table-scroll">
        <table className="cards" aria-label={t('tenants.field.stages')}>
          <thead>
            <tr>
              <th scope="col">{t('stages.field.name')}</th>
              <th scope="col">{t('tenants.field.phase')}</th>
              <th scope="col">{t('stages.field.reason')}</th>
              <th scope="col">{t('stages.field.health')}</th>
              <th scope="col">{t('stages.field.release')}</th>
              {can('releases.write') ? <th scope="col">{t('stages.field.actions')}</th> : null}
            </tr>
          </thead>
          <tbody>
            {stages.map((stage) => {
              const stageRuntime = runtimeOfStage(stage.name);
              return (
                <tr key={stage.name} data-stage={stage.name}>
                  <th scope="row" data-label={t('stages.field.name')}>
                    <Link
                      href={`/tenants/${encodeURIComponent(slug)}/stages/${encodeURIComponent(stage.name)}`}
                    >
                      {stage.name}
                    </Link>
                  </th>
                  <td data-label={t('tenants.field.phase')}>
                    <StatusBadge state={stage.phase} />
                  </td>
                  <td className="wrap" data-label={t('stages.field.reason')}>
                    {stage.reason}
                  </td>
                  <td data-label={t('stages.field.health')}>
                    <StatusBadge state={stageHealth(stageRuntime)} />
                  </td>
                  <td data-label={t('stages.field.release')}>{stageRuntime?.release ?? '—'}</td>
                  {can('releases.write') ? (
                    <td data-label={t('stages.field.actions')}>
                      <div className="actions">
                        <DeployButton tenant={slug} stage={stage.name} onStarted={refresh} />
                        {stageRuntime?.release ? (
                          <RollbackButton tenant={slug} stage={stage.name} onStarted={refresh} />
                        ) : null}
                      </div>
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {can('tenants.write') ? <AddStage tenant={slug} onAdded={tenant.refetch} /> : null}
      {latest ? <DeploymentProgress deployment={latest} /> : null}
      {can('releases.write') && stages.length > 1 ? (
        <section className="panel">
          <h2>{t('promote.title')}</h2>
          <PromoteForm tenant={slug} stages={stages.map((s) => s.name)} onStarted={refresh} />
        </section>
      ) : null}
      <h2>{t('deployments.title')}</h2>
      <ErrorBanner error={deployments.error} />
      <div className="table-scroll">
        <table className="cards" aria-label={t('deployments.title')}>
          <thead>
            <tr>
              <th scope="col">{t('stages.field.name')}</th>
              <th scope="col">{t('stages.field.release')}</th>
              <th scope="col">{t('deployments.status')}</th>
              <th scope="col">{t('deployments.actor')}</th>
              <th scope="col">{t('tenants.field.createdAt')}</th>
            </tr>
          </thead>
          <tbody>
            {(deployments.data ?? []).slice(0, 20).map((d) => (
              <tr key={d.id}>
                <td data-label={t('stages.field.name')}>{d.stage}</td>
                <td data-label={t('stages.field.release')}>
                  {d.app} {d.version}
                </td>
                <td data-label={t('deployments.status')}>
                  <StatusBadge state={d.status} />
                </td>
                <td data-label={t('deployments.actor')}>{d.actor}</td>
                <td data-label={t('tenants.field.createdAt')}>{formatDate(d.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}

function AddStage(props: { readonly tenant: string; readonly onAdded: () => void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const add = useMutation(
    (api, stage: string) =>
      api.post('/api/v1/tenants/{tenant}/stages', {
        params: { tenant: props.tenant },
        body: { name: stage },
      }),
    {
      onSuccess: () => {
        setName('');
        props.onAdded();
      },
    },
  );
  return (
    <Form
      onSubmit={() => add.mutate(name)}
      error={add.error}
      label={t('stages.add.title')}
      className="form form-row"
    >
      <TextField name="name" label={t('stages.add.name')} value={name} onValue={setName} />
      <Button type="submit" busy={add.pending}>
        {t('stages.add.submit')}
      </Button>
    </Form>
  );
}
