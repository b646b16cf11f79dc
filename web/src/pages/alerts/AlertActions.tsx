import { useState } from 'react';
import type { ConsoleApi } from '../../app/api.ts';
import { useT } from '../../app/i18n.tsx';
import { useMutation } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { Button, ConfirmDialog, ErrorBanner, TextField } from '../../ui/index.ts';
import { canAcknowledge, canResolve, type AlertRow } from './types.ts';

/**
 * Acknowledge (a person took it: escalation stops) and resolve (with a note
 * saying why) one alert; the list and the detail page both use them. Hidden
 * from a role that may not change alerts; the API enforces it either way.
 */
export function AlertActions(props: {
  readonly alert: AlertRow;
  readonly onDone: (text: string) => void;
  /** In a table row: the buttons name their alert. */
  readonly compact?: boolean;
}) {
  const t = useT();
  const can = useCan();
  const { alert } = props;
  const [resolving, setResolving] = useState(false);
  const [note, setNote] = useState('');
  const ack = useMutation(
    (api: ConsoleApi, id: string) => api.post('/api/v1/alerts/{id}/ack', { params: { id } }),
    { onSuccess: (a) => props.onDone(t('alerts.acked', { id: a.id })) },
  );
  const resolve = useMutation(
    (api: ConsoleApi, input: { id: string; note: string }) =>
      api.post('/api/v1/alerts/{id}/resolve', {
        params: { id: input.id },
        body: { note: input.note },
      }),
    {
      onSuccess: (a) => {
        setResolving(false);
        setNote('');
        props.onDone(t('alerts.resolved', { id: a.id }));
      },
    },
  );
  if (!can('tenants.write')) return null;
  const named = (label: string) => (props.compact ? `${label}: ${alert.summary} (${alert.id})` : undefined);
  return (
    <span className="row-actions">
      {canAcknowledge(alert) ? (
        <Button
          variant="primary"
          busy={ack.pending}
          aria-label={named(t('alerts.ack'))}
          onClick={() => void ack.mutate(alert.id)}
        >
          {t('alerts.ack')}
        </Button>
      ) : null}
      {canResolve(alert) ? (
        <Button
          aria-label={named(t('alerts.resolve'))}
          onClick={() => {
            resolve.reset();
            setResolving(true);
          }}
        >
          {t('alerts.resolve')}
        </Button>
      ) : null}
      <ErrorBanner error={ack.error} />
      <ConfirmDialog
        open={resolving}
        title={t('alerts.resolve.title', { id: alert.id })}
        confirmLabel={t('alerts.resolve')}
        busy={resolve.pending}
        error={resolve.error}
        onConfirm={() => void resolve.mutate({ id: alert.id, note })}
        onCancel={() => setResolving(false)}
      >
        <TextField name="note" label={t('alerts.resolve.note')} value={note} onValue={setNote} />
      </ConfirmDialog>
    </span>
  );
}
