import { useState } from 'react';
import { describeError, type ConsoleApi } from '../../app/api.ts';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation } from '../../app/query.ts';
import { Button, ConfirmDialog, Form, SelectField, TextField } from '../../ui/index.ts';
import { asTyped, shaped } from '../ops-kit/kit.tsx';
import { place } from '../ops-kit/format.ts';
import {
  restoreBody,
  restoreTargets,
  restoreWindow,
  timeText,
  type RestoreFormValues,
  type RestoreTarget,
} from './restore.ts';
import type { RestoreRow, StageBackups } from './types.ts';

/**
 * Starts a point-in-time restore of a stage: a time inside the window the
 * backups listing shows, into a new stage or in place. In place replaces
 * the stage's database, so a dialog asks for the stage's name first (the
 * API checks it again). The API's message lands under the field it names.
 */
export function RestoreForm(props: {
  readonly backups: Pick<StageBackups, 'tenant' | 'stage' | 'restorable'>;
  readonly onStarted: (restore: RestoreRow) => void;
}) {
  const { t, formatDate } = useI18n();
  const { tenant, stage } = props.backups;
  const reach = restoreWindow(props.backups.restorable);
  const [values, setValues] = useState<RestoreFormValues>({
    toTime: '',
    target: 'into',
    into: '',
    confirm: '',
  });
  const set = (patch: Partial<RestoreFormValues>) => setValues((previous) => ({ ...previous, ...patch }));
  const [asking, setAsking] = useState(false);
  const start = useMutation(
    (api: ConsoleApi, body: Readonly<Record<string, unknown>>) =>
      shaped<RestoreRow>(
        api.post('/api/v1/tenants/{tenant}/stages/{stage}/restores', {
          params: { tenant, stage },
          body: asTyped(body),
        }),
      ),
    {
      onSuccess: (restore) => {
        setAsking(false);
        setValues((previous) => ({ ...previous, confirm: '' }));
        props.onStarted(restore);
      },
    },
  );
  // A refusal of the typed name stays in the dialog; any other goes under its field in the form.
  const inDialog = asking && (start.error === undefined || describeError(start.error).field === 'confirm');
  const send = () => void start.mutate(restoreBody(values));
  const typedName = values.confirm.trim() === stage;

  if (!reach) return <p className="muted">{t('restore.none')}</p>;
  return (
    <section aria-labelledby="restore-title">
      <h2 id="restore-title">{t('restore.title')}</h2>
      <p>
        {t('restore.window', { from: formatDate(reach.from) })}{' '}
        <span className="muted">
          (
          {t('restore.window.detail', {
            backup: formatDate(reach.latestBackupAt),
            wal: reach.latestWal ?? '–',
          })}
          )
        </span>
      </p>
      <Form
        label={t('restore.title')}
        error={inDialog ? undefined : start.error}
        onSubmit={() => {
          start.reset();
          if (values.target === 'in-place') setAsking(true);
          else send();
        }}
      >
        <TextField
          name="toTime"
          label={t('restore.toTime')}
          hint={t('restore.toTime.hint')}
          value={values.toTime}
          onValue={(toTime) => set({ toTime })}
          autoComplete="off"
          required
        />
        <div className="actions">
          <Button onClick={() => set({ toTime: timeText(new Date(reach.from)) })}>
            {t('restore.earliest')}
          </Button>
          <Button onClick={() => set({ toTime: timeText(new Date()) })}>{t('restore.now')}</Button>
        </div>
        <SelectField
          name="target"
          label={t('restore.target')}
          value={values.target}
          onValue={(target) => set({ target: target as RestoreTarget })}
          options={restoreTargets.map((value) => ({ value, label: t(`restore.target.${value}`) }))}
        />
        {values.target === 'into' ? (
          <TextField
            name="into"
            label={t('restore.into')}
            value={values.into}
            onValue={(into) => set({ into })}
            autoComplete="off"
            required
          />
        ) : null}
        <Button
          type="submit"
          variant={values.target === 'in-place' ? 'danger' : 'primary'}
          busy={start.pending}
        >
          {t('restore.submit')}
        </Button>
      </Form>
      <ConfirmDialog
        open={inDialog}
        title={t('restore.confirm.title', { place: place(tenant, stage) })}
        confirmLabel={t('restore.confirm.go')}
        danger
        busy={start.pending}
        confirmDisabled={!typedName}
        onConfirm={send}
        onCancel={() => {
          setAsking(false);
          set({ confirm: '' });
        }}
      >
        <p>{t('restore.confirm.body', { time: values.toTime.trim() })}</p>
        <Form
          label={t('restore.confirm.go')}
          error={inDialog ? start.error : undefined}
          onSubmit={() => {
            if (typedName) send();
          }}
        >
          <TextField
            name="confirm"
            label={t('restore.confirm.field', { stage })}
            value={values.confirm}
            onValue={(confirm) => set({ confirm })}
            autoComplete="off"
            spellCheck={false}
          />
        </Form>
      </ConfirmDialog>
    </section>
  );
}
