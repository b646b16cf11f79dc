import { useState } from 'react';
import { Link } from 'wouter';
import type { ConsoleApi } from '../../app/api.ts';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { useUrlState } from '../../app/url.ts';
import { Button, ErrorBanner, Form, SelectField, StatusBadge, TextField } from '../../ui/index.ts';
import { formatBytes, formatDuration } from '../ops-kit/format.ts';
import { useI18n } from '../../app/i18n.tsx';
import { Facts, Flash, shaped, asTyped } from '../ops-kit/kit.tsx';
import { RestoreForm } from './RestoreForm.tsx';
import { RestoreProgress } from './RestoreProgress.tsx';
import type { RestoreTestRow, StageBackups } from './types.ts';

/**
 * One stage's physical backups (tenant and stage in the URL): freshness,
 * restorable range, runs; back up, test a restore or restore now, and follow
 * the restore started (its id in the URL).
 */
export function StageBackupsView() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const url = useUrlState();
  const tenant = url.get('tenant');
  const stage = url.get('stage');
  const restoreId = url.get('restore');
  const [draft, setDraft] = useState({ tenant, stage: stage || 'prod' });
  const [type, setType] = useState('full');
  const [flash, setFlash] = useState<string | null>(null);
  const ready = tenant !== '' && stage !== '';
  const listing = useQuery(
    ['stage-backups', tenant, stage],
    (api, signal) =>
      shaped<StageBackups>(
        api.get('/api/v1/tenants/{tenant}/stages/{stage}/backups', {
          params: { tenant, stage },
          signal,
        }),
      ),
    { enabled: ready, topics: ['backups', 'restore-tests'] },
  );
  const backup = useMutation(
    (api: ConsoleApi, body: { type: string }) =>
      shaped<{ id: string }>(
        api.post('/api/v1/tenants/{tenant}/stages/{stage}/backups', {
          params: { tenant, stage },
          body: asTyped(body),
        }),
      ),
    { onSuccess: (r) => setFlash(t('backups.requested', { id: r.id })) },
  );
  const restoreTest = useMutation(
    (api: ConsoleApi, _input: null) =>
      shaped<RestoreTestRow>(
        api.post('/api/v1/tenants/{tenant}/stages/{stage}/restore-tests', {
          params: { tenant, stage },
          body: {},
        }),
      ),
    { onSuccess: (r) => setFlash(t('backups.restoreTest.requested', { id: r.id })) },
  );
  const b = listing.data;
  return (
    <>
      <Form
        label={t('backups.tab.stage')}
        onSubmit={() => url.set({ tenant: draft.tenant.trim(), stage: draft.stage.trim(), restore: null })}
      >
        <TextField
          name="tenant"
          label={t('backups.tenant')}
          value={draft.tenant}
          onValue={(v) => setDraft({ ...draft, tenant: v })}
        />
        <TextField
          name="stage"
          label={t('backups.stage')}
          value={draft.stage}
          onValue={(v) => setDraft({ ...draft, stage: v })}
        />
        <Button type="submit">{t('backups.tab.stage')}</Button>
      </Form>
      {!ready ? <p className="muted">{t('backups.pickStage')}</p> : null}
      <Flash text={flash} />
      <ErrorBanner error={listing.error ?? backup.error ?? restoreTest.error} />
      {b ? (
        <section aria-label={`${b.tenant}/${b.stage}`}>
          {b.reason ? <p>{t('backups.stage.reason', { reason: b.reason })}</p> : null}
          {b.error ? <p className="banner banner-warn">{b.error}</p> : null}
          <Facts
            label={`${b.tenant}/${b.stage}`}
            items={[
              [t('backups.clusters.col.stanza'), b.cluster ?? '–'],
              [
                t('backups.stage.freshness'),
                b.freshness
                  ? `${b.freshness.label} · ${formatDate(b.freshness.stoppedAt)} (${formatDuration(b.freshness.ageSeconds * 1000)})`
                  : '–',
              ],
              [
                t('backups.stage.restorable'),
                b.restorable.length === 0
                  ? '–'
                  : b.restorable
                      .map(
                        (r) =>
                          `repo${r.repo}: ${formatDate(r.from)} – ${r.latestWal ?? formatDate(r.latestBackupAt)}`,
                      )
                      .join('; '),
              ],
              [
                t('backups.clusters.col.verify'),
                b.lastVerify
                  ? `${t(b.lastVerify.ok ? 'backups.verify.ok' : 'backups.verify.failed')} · ${formatDate(b.lastVerify.at)}`
                  : t('backups.verify.never'),
              ],
            ]}
          />
          {can('tenants.write') && b.cluster ? (
            <div className="actions">
              <SelectField
                name="type"
                label={t('backups.run.type')}
                value={type}
                onValue={setType}
                options={['full', 'diff', 'incr'].map((value) => ({ value, label: value }))}
              />
              <Button variant="primary" busy={backup.pending} onClick={() => void backup.mutate({ type })}>
                {t('backups.run')}
              </Button>
              <Button busy={restoreTest.pending} onClick={() => void restoreTest.mutate(null)}>
                {t('backups.restoreTest.run')}
              </Button>
              {restoreTest.data ? (
                <Link href={`/backups/restore-tests/${encodeURIComponent(restoreTest.data.id)}`}>
                  {t('backups.restoreTest.open', { id: restoreTest.data.id })}
                </Link>
              ) : null}
              <Link
                href={`/backups?tab=tests&tenant=${encodeURIComponent(tenant)}&stage=${encodeURIComponent(stage)}`}
              >
                {t('backups.tab.tests')}
              </Link>
            </div>
          ) : null}
          {restoreId !== '' ? <RestoreProgress key={restoreId} id={restoreId} /> : null}
          {can('tenants.write') && b.cluster ? (
            <RestoreForm
              backups={b}
              onStarted={(restore) => {
                setFlash(t('restore.started', { id: restore.id }));
                url.set({ restore: restore.id });
              }}
            />
          ) : null}
          <h2>{t('backups.stage.backups')}</h2>
          <table aria-label={t('backups.stage.backups')}>
            <thead>
              <tr>
                <th scope="col">{t('backups.col.label')}</th>
                <th scope="col">{t('backups.col.type')}</th>
                <th scope="col">{t('backups.col.repo')}</th>
                <th scope="col">{t('backups.col.stopped')}</th>
                <th scope="col">{t('backups.col.size')}</th>
              </tr>
            </thead>
            <tbody>
              {b.backups.map((s) => (
                <tr key={`${s.repo}-${s.label}`}>
                  <th scope="row">{s.label}</th>
                  <td>{s.type}</td>
                  <td>{s.repo}</td>
                  <td>{formatDate(s.stoppedAt)}</td>
                  <td>{formatBytes(s.repositoryBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>{t('backups.stage.runs')}</h2>
          <table aria-label={t('backups.stage.runs')}>
            <thead>
              <tr>
                <th scope="col">{t('backups.col.started')}</th>
                <th scope="col">{t('backups.col.type')}</th>
                <th scope="col">{t('backups.col.repo')}</th>
                <th scope="col">{t('backups.col.status')}</th>
                <th scope="col">{t('backups.col.duration')}</th>
                <th scope="col">{t('backups.col.size')}</th>
              </tr>
            </thead>
            <tbody>
              {b.runs.map((run) => (
                <tr key={run.id}>
                  <th scope="row">{formatDate(run.startedAt)}</th>
                  <td>{run.type}</td>
                  <td>{run.repo}</td>
                  <td>
                    <StatusBadge state={run.status} /> {run.error ?? ''}
                  </td>
                  <td>{formatDuration(run.durationMs)}</td>
                  <td>{formatBytes(run.sizeBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </>
  );
}
