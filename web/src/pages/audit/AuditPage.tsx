import type { paths } from '../../../../src/api/client/schema.ts';
import type { ListItem, ResponseBody } from '../../../../src/api/client/typed.ts';
import { useEffect, useState } from 'react';
import { useMutation } from '../../app/query.ts';
import { useUrlState } from '../../app/url.ts';
import {
  Button,
  DataTable,
  ErrorBanner,
  Form,
  Page,
  StatusBadge,
  TextField,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';
import type { ConsoleApi } from '../../app/api.ts';

/** What the audit API returns (the generated schema). */
type AuditEvent = ListItem<paths, '/api/v1/audit'>;
type VerifyReport = ResponseBody<paths, '/api/v1/audit/verify'>;

const filters = ['tenant', 'action', 'actor', 'since', 'until'] as const;
type Filter = (typeof filters)[number];

/** A `datetime-local` value as the API's ISO time with an offset; anything else as typed (the API names it). */
function toIso(local: string): string {
  const date = new Date(local);
  return local === '' || Number.isNaN(date.getTime()) ? local : date.toISOString();
}

/** An ISO time from the URL as a `datetime-local` value in the browser's zone. */
function toLocal(iso: string): string {
  const date = new Date(iso);
  if (iso === '' || Number.isNaN(date.getTime())) return iso;
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/** The audit log, filtered in the URL (tenant, action, actor, since, until), a page at a time; verify the chain. */
export default function AuditPage() {
  const { t, formatDate } = useI18n();
  const url = useUrlState();
  const [draft, setDraft] = useState<Record<Filter, string>>(() => ({
    tenant: url.get('tenant'),
    action: url.get('action'),
    actor: url.get('actor'),
    since: toLocal(url.get('since')),
    until: toLocal(url.get('until')),
  }));
  // Newest first unless the link says otherwise; written into the URL so that a pasted link keeps it.
  const unsorted = url.get('order') === '';
  useEffect(() => {
    if (unsorted) url.set({ sort: 'seq', order: 'desc' });
  }, [unsorted, url]);
  const result = useTablePage('/api/v1/audit', {
    enabled: !unsorted,
    filters: [...filters],
    defaultLimit: 100,
    topics: ['audit'],
  });
  const verify = useMutation((api: ConsoleApi, _input: null) => api.get('/api/v1/audit/verify'));
  const columns: Column<AuditEvent>[] = [
    { key: 'seq', header: t('audit.col.seq'), sort: 'seq', rowHeader: true, render: (e) => e.seq },
    { key: 'at', header: t('audit.col.at'), render: (e) => formatDate(e.at) },
    { key: 'actor', header: t('audit.col.actor'), render: (e) => e.actor },
    { key: 'action', header: t('audit.col.action'), render: (e) => <code>{e.action}</code> },
    { key: 'target', header: t('audit.col.target'), render: (e) => e.target },
    { key: 'tenant', header: t('audit.col.tenant'), render: (e) => e.tenant ?? '–' },
    {
      key: 'outcome',
      header: t('audit.col.outcome'),
      render: (e) => <StatusBadge state={e.outcome} tone={e.outcome === 'success' ? 'good' : 'bad'} />,
    },
    { key: 'address', header: t('audit.col.address'), render: (e) => e.address ?? '–' },
  ];
  const apply = () =>
    url.set({
      tenant: draft.tenant.trim(),
      action: draft.action.trim(),
      actor: draft.actor.trim(),
      since: toIso(draft.since),
      until: toIso(draft.until),
      cursor: null,
    });
  const field = (name: Filter) => ({
    name,
    value: draft[name],
    onValue: (value: string) => setDraft({ ...draft, [name]: value }),
  });
  return (
    <Page
      title={t('audit.title')}
      actions={
        <Button variant="primary" busy={verify.pending} onClick={() => void verify.mutate(null)}>
          {t('audit.verify')}
        </Button>
      }
    >
      <ErrorBanner error={verify.error} />
      {verify.data ? <Verified report={verify.data} /> : null}
      <Form label={t('audit.filter.apply')} error={result.error} onSubmit={apply} className="filters">
        <TextField {...field('tenant')} label={t('audit.filter.tenant')} />
        <TextField {...field('action')} label={t('audit.filter.action')} />
        <TextField {...field('actor')} label={t('audit.filter.actor')} />
        <TextField {...field('since')} type="datetime-local" label={t('audit.filter.since')} />
        <TextField {...field('until')} type="datetime-local" label={t('audit.filter.until')} />
        <Button type="submit">{t('audit.filter.apply')}</Button>
      </Form>
      <DataTable
        label={t('audit.title')}
        columns={columns}
        result={result}
        rowKey={(e) => e.seq}
        empty={t('audit.empty')}
      />
    </Page>
  );
}

function Verified(props: { readonly report: VerifyReport }) {
  const { t, formatDate } = useI18n();
  const r = props.report;
  return (
    <section
      className={`banner ${r.ok ? 'banner-ok' : 'banner-error'}`}
      role="status"
      aria-label={t('audit.verify')}
    >
      <p>
        {r.ok
          ? t('audit.verify.ok', { checked: r.checked, lastSeq: r.lastSeq ?? '0' })
          : t('audit.verify.bad', { problem: r.problem ? `#${r.problem.seq}: ${r.problem.message}` : '' })}
      </p>
      <p>
        {r.checkpoint
          ? t('audit.verify.checkpoint', {
              seq: r.checkpoint.seq,
              at: formatDate(r.checkpoint.at),
              stores: r.checkpoint.stores.join(', '),
            })
          : t('audit.verify.noCheckpoint')}
      </p>
      {r.legacy > 0 ? <p>{t('audit.verify.legacy', { n: r.legacy })}</p> : null}
      {r.problems.length > 1 ? (
        <ul aria-label={t('audit.verify.problems')}>
          {r.problems.map((p) => (
            <li key={`${p.seq}-${p.message}`}>{`#${p.seq}: ${p.message}`}</li>
          ))}
        </ul>
      ) : null}
      {r.warnings.length > 0 ? (
        <ul aria-label={t('audit.verify.warnings')}>
          {r.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
