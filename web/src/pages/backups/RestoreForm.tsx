import { useState } from 'react';
import { describeError, type ConsoleApi } from '../../app/api.ts';
import { useI18n } from '../../app/i18n.tsx';
import {
  Button,
  ConfirmDialog,
  Form,
  FormSection,
  SelectField,
  TextField,
  useFormState,
} from '../../ui/index.ts';
import { asTyped, shaped } from '../ops-kit/kit.tsx';
import { place } from '../ops-kit/format.ts';
import { restoreBody, restoreTargets, restoreWindow, timeText, type RestoreFormValues } from './restore.ts';
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
  const [asking, setAsking] = useState(false);
  const start = useFormState<RestoreFormValues, RestoreRow>(
    { toTime: '', target: 'into', into: '', confirm: '' },
    (api: ConsoleApi, values) =>
      shaped<RestoreRow>(
        api.post('/api/v1/tenants/{tenant}/stages/{stage}/restores', {
          params: { tenant, stage },
          body: asTyped(restoreBody(values)),
        }),
      ),
    {
      keep: ['toTime', 'target', 'into'],
      onSuccess: (restore) => {
        setAsking(false);
        props.onStarted(restore);
      },
    },
  );
  const { values } = start;
  // A refusal of the typed name stays in the dialog; any other goes under its field in the form.
  const inDialog = asking && (start.error === undefined || describeError(start.error).field === 'confirm');
  const send = () => void start.mutate(values);
  const typedName = values.confirm.trim() === stage;
  const toTime = start.field('toTime');
  const confirm = start.field('confirm');

  if (!reach) return <p className="muted">{t('restore.none')}</p>;
  return (
    <>
      <FormSection
        id="restore-title"
        title={t('restore.title')}
        intro={
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
        }
        error={inDialog ? undefined : start.error}
        onSubmit={() => {
          start.reset();
          if (values.target === 'in-place') setAsking(true);
          else send();
        }}
        submitLabel={t('restore.submit')}
        busy={start.pending}
      >
        <TextField
          {...toTime}
          label={t('restore.toTime')}
          hint={t('restore.toTime.hint')}
          autoComplete="off"
          required
        />
        <div className="actions">
          <Button onClick={() => toTime.onValue(timeText(new Date(reach.from)))}>
            {t('restore.earliest')}
          </Button>
          <Button onClick={() => toTime.onValue(timeText(new Date()))}>{t('restore.now')}</Button>
        </div>
        <SelectField
          {...start.field('target')}
          label={t('restore.target')}
          options={restoreTargets.map((value) => ({ value, label: t(`restore.target.${value}`) }))}
        />
        {values.target === 'into' ? (
          <TextField {...start.field('into')} label={t('restore.into')} autoComplete="off" required />
        ) : null}
      </FormSection>
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
          confirm.onValue('');
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
            {...confirm}
            label={t('restore.confirm.field', { stage })}
            autoComplete="off"
            spellCheck={false}
          />
        </Form>
      </ConfirmDialog>
    </>
  );
}
