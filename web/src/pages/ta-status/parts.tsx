import { Link } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import type { QueryResult } from '../../app/query.ts';
import { ListTable, StatusBadge } from '../../ui/index.ts';
import { consolePath } from '../ta-common/scope.tsx';
import type { IncidentRow, MaintenanceRow } from '../ta-common/types.ts';

/** A list's read state and what its emptiness means, for a page that shows the list alone. */
interface ListState {
  readonly result?: Pick<QueryResult<unknown>, 'error' | 'loading'>;
  readonly empty?: string;
}

/** Incidents as a table; each links to its page. */
export function IncidentTable(
  props: {
    readonly tenant: string;
    readonly incidents: readonly IncidentRow[];
    readonly label: string;
  } & ListState,
) {
  const { t, formatDate } = useI18n();
  return (
    <ListTable
      label={props.label}
      rows={props.incidents}
      rowKey={(i) => i.id}
      {...(props.result ? { result: props.result } : {})}
      {...(props.empty !== undefined ? { empty: props.empty } : {})}
      columns={[
        {
          key: 'title',
          header: t('ta.incidents.field.title'),
          rowHeader: true,
          render: (i) => (
            <>
              <Link href={consolePath(props.tenant, `incidents/${encodeURIComponent(i.id)}`)}>{i.title}</Link>
              {i.security ? <span className="badge badge-warn"> {t('ta.incidents.security')}</span> : null}
            </>
          ),
        },
        {
          key: 'severity',
          header: t('ta.incidents.field.severity'),
          render: (i) => `${i.severity} (${i.severityName})`,
        },
        {
          key: 'status',
          header: t('ta.incidents.field.status'),
          render: (i) => <StatusBadge state={i.status} />,
        },
        { key: 'stage', header: t('ta.field.stage'), render: (i) => i.stage ?? t('ta.field.allStages') },
        { key: 'opened', header: t('ta.incidents.field.openedAt'), render: (i) => formatDate(i.openedAt) },
        {
          key: 'resolved',
          header: t('ta.incidents.field.resolvedAt'),
          render: (i) => (i.resolvedAt ? formatDate(i.resolvedAt) : '—'),
        },
      ]}
    />
  );
}

/** Maintenance windows as a table, in the window's own time zone as announced. */
export function MaintenanceTable(
  props: { readonly windows: readonly MaintenanceRow[]; readonly label: string } & ListState,
) {
  const { t, formatDate } = useI18n();
  return (
    <ListTable
      label={props.label}
      rows={props.windows}
      rowKey={(w) => w.id}
      {...(props.result ? { result: props.result } : {})}
      {...(props.empty !== undefined ? { empty: props.empty } : {})}
      columns={[
        {
          key: 'from',
          header: t('ta.maintenance.field.from'),
          rowHeader: true,
          render: (w) => (
            <>
              {formatDate(w.startsAt)} <span className="muted">({w.timeZone})</span>
            </>
          ),
        },
        { key: 'until', header: t('ta.maintenance.field.until'), render: (w) => formatDate(w.endsAt) },
        { key: 'stage', header: t('ta.field.stage'), render: (w) => w.stage ?? t('ta.field.allStages') },
        { key: 'reason', header: t('ta.maintenance.field.reason'), render: (w) => w.reason },
        {
          key: 'kind',
          header: t('ta.maintenance.field.kind'),
          render: (w) => (
            <>
              {w.kind}
              {w.cancelledAt ? <StatusBadge state={t('ta.maintenance.cancelled')} tone="idle" /> : null}
            </>
          ),
        },
      ]}
    />
  );
}
