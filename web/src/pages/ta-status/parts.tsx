import { Link } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { StatusBadge } from '../../ui/index.ts';
import { consolePath } from '../ta-common/scope.tsx';
import type { IncidentRow, MaintenanceRow } from '../ta-common/types.ts';

/** Incidents as a table; each links to its page. */
export function IncidentTable(props: {
  readonly tenant: string;
  readonly incidents: readonly IncidentRow[];
  readonly label: string;
}) {
  const { t, formatDate } = useI18n();
  return (
    <div className="table-scroll">
      <table aria-label={props.label}>
        <thead>
          <tr>
            <th scope="col">{t('ta.incidents.field.title')}</th>
            <th scope="col">{t('ta.incidents.field.severity')}</th>
            <th scope="col">{t('ta.incidents.field.status')}</th>
            <th scope="col">{t('ta.field.stage')}</th>
            <th scope="col">{t('ta.incidents.field.openedAt')}</th>
            <th scope="col">{t('ta.incidents.field.resolvedAt')}</th>
          </tr>
        </thead>
        <tbody>
          {props.incidents.map((i) => (
            <tr key={i.id}>
              <th scope="row">
                <Link href={consolePath(props.tenant, `incidents/${encodeURIComponent(i.id)}`)}>
                  {i.title}
                </Link>
                {i.security ? <span className="badge badge-warn"> {t('ta.incidents.security')}</span> : null}
              </th>
              <td>
                {i.severity} ({i.severityName})
              </td>
              <td>
                <StatusBadge state={i.status} />
              </td>
              <td>{i.stage ?? t('ta.field.allStages')}</td>
              <td>{formatDate(i.openedAt)}</td>
              <td>{i.resolvedAt ? formatDate(i.resolvedAt) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Maintenance windows as a table, in the window's own time zone as announced. */
export function MaintenanceTable(props: {
  readonly windows: readonly MaintenanceRow[];
  readonly label: string;
}) {
  const { t, formatDate } = useI18n();
  return (
    <div className="table-scroll">
      <table aria-label={props.label}>
        <thead>
          <tr>
            <th scope="col">{t('ta.maintenance.field.from')}</th>
            <th scope="col">{t('ta.maintenance.field.until')}</th>
            <th scope="col">{t('ta.field.stage')}</th>
            <th scope="col">{t('ta.maintenance.field.reason')}</th>
            <th scope="col">{t('ta.maintenance.field.kind')}</th>
          </tr>
        </thead>
        <tbody>
          {props.windows.map((w) => (
            <tr key={w.id}>
              <th scope="row">
                {formatDate(w.startsAt)} <span className="muted">({w.timeZone})</span>
              </th>
              <td>{formatDate(w.endsAt)}</td>
              <td>{w.stage ?? t('ta.field.allStages')}</td>
              <td>{w.reason}</td>
              <td>
                {w.kind}
                {w.cancelledAt ? <StatusBadge state={t('ta.maintenance.cancelled')} tone="idle" /> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
