import { useState } from 'react';
import { Link, useParams } from 'wouter';
import { itemsOf, type ConsoleApi } from '../../app/api.ts';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { Button, ErrorBanner, Form, Page, SelectField, TextField } from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';
import { Flash, useFormValues } from '../ops-kit/kit.tsx';
import type { ContactRow, OnCall } from './types.ts';

const emptyForm = { member: '', from: '', until: '' };

/** One schedule: who is on call, the next shifts and the overrides; let someone cover a shift. */
export default function ScheduleDetail() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const { name = '' } = useParams<{ name: string }>();
  const [flash, setFlash] = useState<string | null>(null);
  const { values: form, field, reset } = useFormValues(emptyForm);
  const schedule = useQuery(
    ['oncall-schedule', name],
    (api, signal) => api.get('/api/v1/oncall/schedules/{name}', { params: { name }, signal }),
    { topics: ['oncall'] },
  );
  // Anyone an operator may cover a shift, not only the rotation's members.
  const operators = useQuery(
    ['oncall-contacts'],
    async (api, signal) => itemsOf<ContactRow>(await api.get('/api/v1/oncall/contacts', { signal })),
    { topics: ['operators'], enabled: can('notifications.write') },
  );
  const cover = useMutation(
    (api: ConsoleApi, body: typeof emptyForm) =>
      api.post('/api/v1/oncall/schedules/{name}/overrides', { params: { name }, body }),
    {
      onSuccess: () => {
        setFlash(t('oncall.override.added'));
        reset();
        schedule.refetch();
      },
    },
  );
  const s = schedule.data;
  const shifts = (label: string, rows: readonly OnCall[]) => (
    <table aria-label={label}>
      <thead>
        <tr>
          <th scope="col">{t('oncall.shift.member')}</th>
          <th scope="col">{t('oncall.shift.from')}</th>
          <th scope="col">{t('oncall.shift.until')}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((shift) => (
          <tr key={`${shift.member}-${shift.from}`}>
            <th scope="row">{shift.member + (shift.override ? ' *' : '')}</th>
            <td>{formatDate(shift.from)}</td>
            <td>{formatDate(shift.until)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
  return (
    <Page title={t('oncall.detail.title', { name })} crumbs={<Link href="/oncall">{t('oncall.title')}</Link>}>
      <Flash text={flash} />
      <ErrorBanner error={schedule.error} />
      {s ? (
        <>
          <p>{`${t('oncall.col.now')}: ${s.onCall.member} (${formatDate(s.onCall.from)} – ${formatDate(s.onCall.until)})`}</p>
          <h2>{t('oncall.detail.upcoming')}</h2>
          {shifts(t('oncall.detail.upcoming'), s.upcoming)}
          <h2>{t('oncall.detail.overrides')}</h2>
          {s.overrides.length === 0 ? (
            <p className="muted">{t('oncall.detail.noOverrides')}</p>
          ) : (
            shifts(
              t('oncall.detail.overrides'),
              s.overrides.map((o) => ({
                schedule: name,
                member: o.member,
                from: o.from,
                until: o.until,
                override: o.id,
              })),
            )
          )}
        </>
      ) : null}
      {can('notifications.write') ? (
        <section aria-labelledby="oncall-override">
          <h2 id="oncall-override">{t('oncall.override.add')}</h2>
          <Form label={t('oncall.override.add')} error={cover.error} onSubmit={() => cover.mutate(form)}>
            {operators.data && operators.data.length > 0 ? (
              <SelectField
                {...field('member')}
                label={t('oncall.override.member')}
                options={[
                  { value: '', label: t('oncall.override.choose') },
                  ...operators.data.map((o) => ({ value: o.username, label: o.username })),
                ]}
              />
            ) : (
              <TextField {...field('member')} label={t('oncall.override.member')} required />
            )}
            <TextField
              {...field('from')}
              label={t('oncall.override.from')}
              placeholder="2026-12-24T18:00+01:00"
              required
            />
            <TextField
              {...field('until')}
              label={t('oncall.override.until')}
              placeholder="2026-12-27T09:00+01:00"
              required
            />
            <Button type="submit" variant="primary" busy={cover.pending}>
              {t('oncall.override.add')}
            </Button>
          </Form>
        </section>
      ) : null}
    </Page>
  );
}
