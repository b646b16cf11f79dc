import { useEffect, useState } from 'react';
import { Link } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { ErrorBanner, StatusBadge, Steps } from '../../ui/index.ts';
import { formatDuration } from '../ops-kit/format.ts';
import { Facts, shaped } from '../ops-kit/kit.tsx';
import { restoreSteps, restoreTimings, restoreTookMs } from './restore.ts';
import type { RestoreRow } from './types.ts';

/** How often a running restore is asked again when no live event came (a dropped stream). */
const pollMs = 3000;

/**
 * One restore as it runs (mount it keyed by the id): its phase among the steps, what it is doing now,
 * live (the `restores` events, and a slow poll while it runs); once it has
 * ended, its evidence: the time reached, the backup, how long it took, the
 * files, what it kept.
 */
export function RestoreProgress(props: { readonly id: string }) {
  const { t, formatDate } = useI18n();
  const { id } = props;
  const [ended, setEnded] = useState(false);
  const restore = useQuery(
    ['restore', id],
    (api, signal) => shaped<RestoreRow>(api.get('/api/v1/restores/{id}', { params: { id }, signal })),
    {
      topics: ['restores'],
      match: (signal) => signal.topic === 'restores' && (signal.id === id || signal.id === null),
      ...(ended ? {} : { pollMs }),
    },
  );
  const r = restore.data;
  useEffect(() => {
    if (r && r.status !== 'running') setEnded(true);
  }, [r]);
  const title = t('restore.progress.title', { id });
  return (
    <section aria-label={title} className="restore-progress">
      <h2>{title}</h2>
      <ErrorBanner error={restore.error} />
      {r ? (
        <>
          <p>
            <StatusBadge state={r.status} /> {r.error ?? r.progress}
          </p>
          <Steps
            label={t('restore.progress.steps', { id })}
            steps={restoreSteps(r).map((s) => ({
              key: s.phase,
              label: t(`restore.phase.${s.phase}`),
              state: s.state,
            }))}
          />
          {r.status !== 'running' ? (
            <>
              <h3>{t('restore.evidence')}</h3>
              <Facts
                label={`${t('restore.evidence')}: ${title}`}
                items={[
                  [t('restore.fact.place'), `${r.tenant}/${r.sourceStage} → ${r.tenant}/${r.targetStage}`],
                  [t('restore.fact.mode'), t(`restore.target.${r.mode}`)],
                  [t('restore.fact.toTime'), `${formatDate(r.toTime)} (${r.toTime})`],
                  [t('restore.fact.backup'), `${r.backupLabel} (repo${r.repo}, ${r.cluster})`],
                  [t('restore.fact.took'), formatDuration(restoreTookMs(r))],
                  [
                    t('restore.fact.timings'),
                    restoreTimings(r.timings)
                      .map(([step, ms]) => `${step} ${formatDuration(ms)}`)
                      .join(' · ') || '–',
                  ],
                  [
                    t('restore.fact.files'),
                    r.files.note ??
                      (r.files.restored ? `export ${r.files.exportId}` : t('restore.files.none')),
                  ],
                  ...(r.mode === 'in-place'
                    ? [
                        [
                          t('restore.fact.kept'),
                          r.keptDatabase ?? (r.discardedAt ? t('restore.kept.discarded') : '–'),
                        ] as const,
                      ]
                    : []),
                  [
                    t('restore.fact.by'),
                    `${r.createdBy} · ${formatDate(r.createdAt)} – ${formatDate(r.finishedAt)}`,
                  ],
                  ...(r.error ? [[t('restore.fact.error'), r.error] as const] : []),
                ]}
              />
              <Link href={`/backups?tab=restores&tenant=${encodeURIComponent(r.tenant)}`}>
                {t('restore.allRestores')}
              </Link>
            </>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
