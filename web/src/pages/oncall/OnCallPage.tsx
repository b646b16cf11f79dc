import { useState } from 'react';
import { Link } from 'wouter';
import type { ConsoleApi } from '../../app/api.ts';
import { itemsOf } from '../../app/api.ts';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import {
  Button,
  DataTable,
  ErrorBanner,
  Form,
  ListTable,
  Page,
  TextField,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';
import { Flash, useFormValues } from '../ops-kit/kit.tsx';
import { ContactEditor } from './ContactEditor.tsx';
import { PolicyEditor } from './PolicyEditor.tsx';
import { memberList, type ContactRow, type PolicyRow, type ScheduleRow } from './types.ts';

const emptyForm = { name: '', rotation: 'weekly', tz: 'Europe/Berlin', handoff: '09:00', members: '' };

/** On-call: schedules with who is on call now, escalation policies, the addresses operators are paged at. */
export default function OnCallPage() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const [flash, setFlash] = useState<string | null>(null);
  const [policyEdit, setPolicyEdit] = useState<{ policy: PolicyRow | null; seq: number } | null>(null);
  const [contactEdit, setContactEdit] = useState<{ username: string; seq: number } | null>(null);
  const { values: form, field, reset } = useFormValues(emptyForm);
  const schedules = useTablePage<ScheduleRow>('/api/v1/oncall/schedules', { topics: ['oncall'] });
  const policies = useQuery(
    ['oncall-policies'],
    async (api, signal) =>
      itemsOf<PolicyRow>(await api.get('/api/v1/oncall/escalation-policies', { signal })),
    { topics: ['oncall'] },
  );
  const contacts = useQuery(
    ['oncall-contacts'],
    async (api, signal) => itemsOf<ContactRow>(await api.get('/api/v1/oncall/contacts', { signal })),
    { topics: ['oncall', 'operators'] },
  );
  const add = useMutation(
    (api: ConsoleApi, f: typeof emptyForm) =>
      api.post('/api/v1/oncall/schedules', {
        body: {
          name: f.name,
          rotation: f.rotation,
          tz: f.tz,
          ...(f.handoff ? { handoff: f.handoff } : {}),
          members: memberList(f.members),
        },
      }),
    {
      onSuccess: (s) => {
        setFlash(t('oncall.added', { name: s.name }));
        reset();
        schedules.refetch();
      },
    },
  );
  const columns: Column<ScheduleRow>[] = [
    {
      key: 'name',
      header: t('oncall.col.name'),
      rowHeader: true,
      render: (s) => <Link href={`/oncall/${encodeURIComponent(s.name)}`}>{s.name}</Link>,
    },
    {
      key: 'now',
      header: t('oncall.col.now'),
      render: (s) => s.onCall.member + (s.onCall.override ? ' *' : ''),
    },
    { key: 'until', header: t('oncall.col.until'), render: (s) => formatDate(s.onCall.until) },
    { key: 'rotation', header: t('oncall.col.rotation'), render: (s) => s.rotation },
    { key: 'zone', header: t('oncall.col.zone'), render: (s) => `${s.timeZone} · ${s.handoff}` },
    { key: 'members', header: t('oncall.col.members'), render: (s) => s.members.join(', ') },
  ];
  return (
    <Page title={t('oncall.title')}>
      <Flash text={flash} />
      <h2>{t('oncall.schedules')}</h2>
      <DataTable
        label={t('oncall.schedules')}
        columns={columns}
        result={schedules}
        rowKey={(s) => s.name}
        empty={t('oncall.empty')}
      />
      {can('notifications.write') ? (
        <section aria-labelledby="oncall-add">
          <h3 id="oncall-add">{t('oncall.add')}</h3>
          <Form label={t('oncall.add')} error={add.error} onSubmit={() => add.mutate(form)}>
            <TextField {...field('name')} label={t('oncall.add.name')} required />
            <TextField {...field('rotation')} label={t('oncall.add.rotation')} />
            <TextField {...field('tz')} label={t('oncall.add.tz')} />
            <TextField {...field('handoff')} label={t('oncall.add.handoff')} />
            <TextField {...field('members')} label={t('oncall.add.members')} required />
            <Button type="submit" variant="primary" busy={add.pending}>
              {t('oncall.add')}
            </Button>
          </Form>
        </section>
      ) : null}
      <section aria-labelledby="oncall-policies">
        <h2 id="oncall-policies">{t('oncall.policies')}</h2>
        <ErrorBanner error={policies.error} />
        {policies.data?.length === 0 ? <p className="muted">{t('oncall.policies.empty')}</p> : null}
        {policies.data?.map((p) => (
          <div key={p.name}>
            <h3>{p.name}</h3>
            <ol aria-label={`${p.name}: ${t('oncall.policy.steps')}`}>
              {p.steps.map((step, i) => (
                <li key={`${i}-${step}`}>{step}</li>
              ))}
            </ol>
            <p className="muted">{`${t('oncall.policy.repeat')}: ${p.repeat}`}</p>
            {can('notifications.write') ? (
              <Button
                aria-label={t('oncall.policy.editName', { name: p.name })}
                onClick={() => setPolicyEdit({ policy: p, seq: Date.now() })}
              >
                {t('oncall.edit')}
              </Button>
            ) : null}
          </div>
        ))}
        {can('notifications.write') ? (
          policyEdit ? (
            <PolicyEditor
              key={policyEdit.seq}
              policy={policyEdit.policy}
              schedules={(schedules.data?.items ?? []).map((s) => s.name)}
              onSaved={(saved) => {
                setFlash(t('oncall.policy.saved', { name: saved.name }));
                setPolicyEdit(null);
                policies.refetch();
              }}
              onCancel={() => setPolicyEdit(null)}
            />
          ) : (
            <Button variant="primary" onClick={() => setPolicyEdit({ policy: null, seq: Date.now() })}>
              {t('oncall.policy.new')}
            </Button>
          )
        ) : null}
      </section>
      <section aria-labelledby="oncall-contacts">
        <h2 id="oncall-contacts">{t('oncall.contacts')}</h2>
        <ListTable
          label={t('oncall.contacts')}
          rows={contacts.data ?? []}
          result={contacts}
          rowKey={(c) => c.username}
          cards
          columns={[
            {
              key: 'operator',
              header: t('oncall.contact.operator'),
              rowHeader: true,
              render: (c) => c.username,
            },
            {
              key: 'email',
              header: t('oncall.contact.email'),
              render: (c) => c.email ?? t('oncall.contact.none'),
            },
            can('notifications.write') && {
              key: 'actions',
              header: t('oncall.actions'),
              render: (c) => (
                <Button
                  variant="link"
                  aria-label={t('oncall.contact.editName', { name: c.username })}
                  onClick={() => setContactEdit({ username: c.username, seq: Date.now() })}
                >
                  {t('oncall.edit')}
                </Button>
              ),
            },
          ]}
        />
        {can('notifications.write') && contacts.data && contacts.data.length > 0 ? (
          <>
            <h3>{t('oncall.contact.edit')}</h3>
            <ContactEditor
              contacts={contacts.data}
              editing={contactEdit}
              onSaved={(saved) => {
                setFlash(t('oncall.contact.saved', { name: saved.username }));
                contacts.refetch();
              }}
            />
          </>
        ) : null}
      </section>
    </Page>
  );
}
