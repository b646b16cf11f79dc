import { useState } from 'react';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation, useQuery } from '../../app/query.ts';
import {
  Button,
  ConfirmDialog,
  Form,
  SelectField,
  StatusBadge,
  Steps,
  useFormState,
} from '../../ui/index.ts';
import { releasesOf } from './data.ts';
import { inFlight, type DeploymentRow } from './types.ts';

const deploySteps = ['pending', 'migrating', 'starting', 'active'] as const;

/** A deployment's progress: its steps, the current one marked, and why it failed if it did. */
export function DeploymentProgress(props: { readonly deployment: DeploymentRow }) {
  const { t } = useI18n();
  const { status, reason } = props.deployment;
  const at = deploySteps.indexOf(status as (typeof deploySteps)[number]);
  const failed = status === 'failed';
  const steps = deploySteps.map((step, index) => ({
    key: step,
    label: t(`deploy.step.${step}`),
    state:
      at < 0
        ? failed && index === deploySteps.length - 1
          ? ('failed' as const)
          : ('done' as const)
        : index < at || (index === at && step === 'active')
          ? ('done' as const)
          : index === at
            ? ('current' as const)
            : ('todo' as const),
  }));
  return (
    <div className="panel" aria-live="polite">
      <p>
        {t('deploy.progress', {
          release: `${props.deployment.app} ${props.deployment.version}`,
          stage: props.deployment.stage,
        })}{' '}
        <StatusBadge state={status} />
      </p>
      {inFlight(status) || status === 'active' || failed ? (
        <Steps label={t('deploy.steps')} steps={steps} />
      ) : null}
      {reason ? <p className="muted">{reason}</p> : null}
    </div>
  );
}

/** Deploy a release to a stage: pick one of the uploaded releases. */
export function DeployButton(props: {
  readonly tenant: string;
  readonly stage: string;
  readonly onStarted: () => void;
}) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const releases = useQuery(['releases'], (api, signal) => releasesOf(api, signal), {
    topics: ['releases'],
    enabled: open,
  });
  const [choice, setChoice] = useState('');
  const options = (releases.data ?? []).map((release) => ({
    value: `${release.app}\u0000${release.version}`,
    label: `${release.app} ${release.version}`,
  }));
  const selected = choice || options[0]?.value || '';
  const deploy = useMutation(
    (api, release: string) => {
      const [app, version] = release.split('\u0000');
      return api.post('/api/v1/tenants/{tenant}/stages/{stage}/deployments', {
        params: { tenant: props.tenant, stage: props.stage },
        body: { version: version ?? '', ...(app ? { app } : {}) },
      });
    },
    {
      onSuccess: () => {
        setOpen(false);
        props.onStarted();
      },
    },
  );
  return (
    <>
      <Button variant="primary" onClick={() => setOpen(true)}>
        {t('deploy.action')}
      </Button>
      {open ? (
        <ConfirmDialog
          open
          title={t('deploy.title', { stage: props.stage })}
          confirmLabel={t('deploy.confirm')}
          busy={deploy.pending}
          onCancel={() => {
            deploy.reset();
            setOpen(false);
          }}
          onConfirm={() => void deploy.mutate(selected)}
        >
          <Form onSubmit={() => deploy.mutate(selected)} error={deploy.error}>
            {options.length ? (
              <SelectField
                name="version"
                label={t('deploy.release')}
                value={selected}
                onValue={setChoice}
                options={options}
              />
            ) : (
              <p className="muted">{releases.loading ? t('ui.loading') : t('deploy.noReleases')}</p>
            )}
          </Form>
        </ConfirmDialog>
      ) : null}
    </>
  );
}

/** Roll a stage back to the release it ran before. */
export function RollbackButton(props: {
  readonly tenant: string;
  readonly stage: string;
  readonly onStarted: () => void;
}) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const rollback = useMutation(
    (api) =>
      api.post('/api/v1/tenants/{tenant}/stages/{stage}/rollback', {
        params: { tenant: props.tenant, stage: props.stage },
        body: {},
      }),
    {
      onSuccess: () => {
        setOpen(false);
        props.onStarted();
      },
    },
  );
  return (
    <>
      <Button onClick={() => setOpen(true)}>{t('rollback.action')}</Button>
      {open ? (
        <ConfirmDialog
          open
          danger
          title={t('rollback.title', { stage: props.stage })}
          confirmLabel={t('rollback.confirm')}
          busy={rollback.pending}
          error={rollback.error}
          onCancel={() => {
            rollback.reset();
            setOpen(false);
          }}
          onConfirm={() => void rollback.mutate(undefined)}
        >
          <p>{t('rollback.text')}</p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}

/** Promote: deploy the release one stage runs to another. */
export function PromoteForm(props: {
  readonly tenant: string;
  readonly stages: readonly string[];
  readonly onStarted: () => void;
}) {
  const { t } = useI18n();
  const promote = useFormState(
    { from: props.stages[0] ?? '', to: props.stages[1] ?? props.stages[0] ?? '' },
    (api, body) => api.post('/api/v1/tenants/{tenant}/promote', { params: { tenant: props.tenant }, body }),
    { onSuccess: props.onStarted, keep: ['from', 'to'] },
  );
  const options = props.stages.map((value) => ({ value, label: value }));
  return (
    <Form {...promote.form} label={t('promote.title')} className="form form-row">
      <SelectField {...promote.field('from')} label={t('promote.from')} options={options} />
      <SelectField {...promote.field('to')} label={t('promote.to')} options={options} />
      <Button type="submit" busy={promote.pending}>
        {t('promote.action')}
      </Button>
    </Form>
  );
}
