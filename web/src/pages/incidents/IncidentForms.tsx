import { useState } from 'react';
import type { ConsoleApi } from '../../app/api.ts';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation } from '../../app/query.ts';
import { Button, Form, SelectField, TextField } from '../../ui/index.ts';
import { shaped, asTyped, useFormValues } from '../ops-kit/kit.tsx';
import { postmortemDocument, postmortemFields, type PostmortemForm } from './postmortem.ts';
import { incidentStatuses, type IncidentRow } from './types.ts';

/** A status change and/or a note on the timeline; optionally a status-page post. */
export function UpdateForm(props: {
  readonly incident: IncidentRow;
  readonly onDone: (text: string) => void;
}) {
  const { t } = useI18n();
  const [status, setStatus] = useState('');
  const [note, setNote] = useState('');
  const [isPublic, setPublic] = useState(false);
  const update = useMutation(
    (api: ConsoleApi, body: Record<string, unknown>) =>
      shaped<IncidentRow>(
        api.post('/api/v1/incidents/{id}/updates', {
          params: { id: props.incident.id },
          body: asTyped(body),
        }),
      ),
    {
      onSuccess: () => {
        setStatus('');
        setNote('');
        setPublic(false);
        props.onDone(t('incidents.updated'));
      },
    },
  );
  return (
    <section aria-labelledby="incident-update">
      <h2 id="incident-update">{t('incidents.update')}</h2>
      <Form
        label={t('incidents.update')}
        error={update.error}
        onSubmit={() =>
          update.mutate({ note, ...(status ? { status } : {}), ...(isPublic ? { public: true } : {}) })
        }
      >
        <SelectField
          name="status"
          label={t('incidents.update.status')}
          value={status}
          onValue={setStatus}
          options={[
            { value: '', label: t('incidents.update.keep') },
            ...incidentStatuses.map((s) => ({ value: s, label: t(`incidents.status.${s}`) })),
          ]}
        />
        <TextField name="note" label={t('incidents.update.note')} value={note} onValue={setNote} required />
        <label className="inline">
          <input
            type="checkbox"
            name="public"
            checked={isPublic}
            onChange={(event) => setPublic(event.target.checked)}
          />{' '}
          {t('incidents.update.public')}
        </label>
        <Button type="submit" variant="primary" busy={update.pending}>
          {t('incidents.update')}
        </Button>
      </Form>
    </section>
  );
}

const emptyPostmortem: PostmortemForm = {
  cause: '',
  impactSummary: '',
  slaMinutes: '0',
  actionWhat: '',
  actionOwner: '',
  actionDue: '',
  checkWhat: '',
  checkWhy: '',
};

/** The post-mortem as a form; the API's message for `postmortem.actions.0.due` lands under that input. */
export function PostmortemEditor(props: {
  readonly incident: IncidentRow;
  readonly onDone: (text: string) => void;
}) {
  const { t } = useI18n();
  const { values: form, field } = useFormValues(emptyPostmortem);
  const save = useMutation(
    (api: ConsoleApi, f: PostmortemForm) =>
      shaped<IncidentRow>(
        api.put('/api/v1/incidents/{id}/postmortem', {
          params: { id: props.incident.id },
          body: { document: postmortemDocument(f) },
        }),
      ),
    { onSuccess: () => props.onDone(t('incidents.postmortem.saved')) },
  );
  return (
    <Form label={t('incidents.postmortem')} error={save.error} onSubmit={() => save.mutate(form)}>
      <TextField
        {...field('cause', postmortemFields.cause)}
        label={t('incidents.postmortem.cause')}
        required
      />
      <TextField
        {...field('impactSummary', postmortemFields.impactSummary)}
        label={t('incidents.postmortem.impactSummary')}
        required
      />
      <TextField
        {...field('slaMinutes', postmortemFields.slaMinutes)}
        label={t('incidents.postmortem.slaMinutes')}
        inputMode="decimal"
      />
      <TextField
        {...field('actionWhat', postmortemFields.actionWhat)}
        label={t('incidents.postmortem.action')}
        required
      />
      <TextField
        {...field('actionOwner', postmortemFields.actionOwner)}
        label={t('incidents.postmortem.actionOwner')}
        required
      />
      <TextField
        {...field('actionDue', postmortemFields.actionDue)}
        label={t('incidents.postmortem.actionDue')}
        placeholder="2026-12-31"
        required
      />
      <TextField
        {...field('checkWhat', postmortemFields.checkWhat)}
        label={t('incidents.postmortem.check')}
      />
      <TextField
        {...field('checkWhy', postmortemFields.checkWhy)}
        label={t('incidents.postmortem.checkWhy')}
      />
      <Button type="submit" variant="primary" busy={save.pending}>
        {t('incidents.postmortem.save')}
      </Button>
    </Form>
  );
}

/** Record who told the affected customers or the supervisory authority of a confirmed breach. */
export function NoticeForm(props: {
  readonly incident: IncidentRow;
  readonly onDone: (text: string) => void;
}) {
  const { t } = useI18n();
  const [party, setParty] = useState('customers');
  const [who, setWho] = useState('');
  const record = useMutation(
    (api: ConsoleApi, body: { party: string; who: string }) =>
      shaped<IncidentRow>(
        api.post('/api/v1/incidents/{id}/notices', {
          params: { id: props.incident.id },
          body: asTyped(body),
        }),
      ),
    {
      onSuccess: () => {
        setWho('');
        props.onDone(t('incidents.notice.recorded'));
      },
    },
  );
  return (
    <Form
      label={t('incidents.notice.record')}
      error={record.error}
      onSubmit={() => record.mutate({ party, who })}
    >
      <SelectField
        name="party"
        label={t('incidents.notice.party')}
        value={party}
        onValue={setParty}
        options={[
          { value: 'customers', label: t('incidents.deadline.customers') },
          { value: 'authority', label: t('incidents.deadline.authority') },
        ]}
      />
      <TextField name="who" label={t('incidents.notice.who')} value={who} onValue={setWho} required />
      <Button type="submit" busy={record.pending}>
        {t('incidents.notice.record')}
      </Button>
    </Form>
  );
}
