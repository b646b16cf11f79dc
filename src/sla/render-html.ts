import type { Minutes, SlaFigures } from './account.ts';
import type { OutageEvidence, SlaReport } from './service.ts';

/**
 * An SLA report as one self-contained HTML page: no script, no framework, no
 * outside resource; it prints on A4 (and is what the PDF prints).
 */
const escapes: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const esc = (value: unknown): string =>
  (typeof value === 'string'
    ? value
    : value === null || value === undefined
      ? ''
      : JSON.stringify(value)
  ).replace(/[&<>"']/g, (c) => escapes[c] ?? c);

const fmt = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 2 });
const when = (iso: string, zone: string): string =>
  new Date(iso).toLocaleString('en-GB', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  });

const statusWords: Readonly<Record<SlaFigures['status'], string>> = {
  met: 'Met',
  missed: 'Missed',
  'on-track': 'On track (period not ended)',
  'at-risk': 'At risk (period not ended)',
  'not-measured': 'Not measured',
};

function minutesRows(m: Minutes): string {
  const rows: [string, number, string][] = [
    ['Time in scope (service time)', m.scope, ''],
    ['Announced maintenance (excluded)', m.maintenance, 'clause: announced maintenance'],
    [
      'Outside the vendor’s control (excluded)',
      m.operatorExcluded,
      'clause: excluded by an operator, with a reason',
    ],
    ['Short outages (excluded)', m.shortOutages, 'clause: outages up to the set length'],
    ['Not monitored (unknown)', m.unknown, 'shown apart, never counted as up'],
    ['Measured time', m.measured, 'scope less the exclusions'],
    ['Up', m.up, ''],
    ['Degraded', m.degraded, 'counts with the partial weight'],
    ['Down', m.down, ''],
    ['Counted downtime', m.countedDowntime, 'down + weighted degraded'],
    ['Budget (allowed downtime)', m.budget, ''],
  ];
  return rows
    .map(
      ([label, value, note]) =>
        `<tr><th scope="row">${esc(label)}</th><td class="n">${fmt(value)}</td><td>${esc(note)}</td></tr>`,
    )
    .join('\n');
}

function outageRows(outages: readonly OutageEvidence[], zone: string): string {
  if (outages.length === 0) return '<p>No outage in this period.</p>';
  const rows = outages.map((o) => {
    const cause = o.evidence.states
      .map((s) => {
        const c = s.cause as { results?: { detail?: string; outcome?: string }[]; reason?: string } | null;
        const detail = c?.results?.map((r) => r.detail ?? r.outcome).join('; ') ?? c?.reason ?? '';
        return `check ${esc(s.checkId)}: ${esc(s.state)} from ${esc(when(s.start, zone))}${detail ? ` — ${esc(detail)}` : ''}`;
      })
      .join('<br>');
    const alerts = o.evidence.alerts
      .map((a) => `alert #${esc(a.id)} ${esc(a.severity)}: ${esc(a.summary)}`)
      .join('<br>');
    const incidents = o.evidence.incidents
      .map((i) => `incident #${esc(i.id)} severity ${esc(i.severity)}: ${esc(i.title)} (${esc(i.status)})`)
      .join('<br>');
    const healing = o.evidence.healing
      .map((h) => `self-healing: ${esc(h.action ?? h.kind ?? 'attempt')} ${esc(h.outcome ?? h.status ?? '')}`)
      .join('<br>');
    const maint = o.evidence.maintenance.map((m) => `maintenance #${esc(m)}`).join(', ');
    const excl = o.evidence.exclusions.map((e) => `exclusion #${esc(e)}`).join(', ');
    const p = o.inPeriod;
    return `<tr>
<td>${esc(when(o.start, zone))}<br>${esc(when(o.end, zone))}${o.ongoing ? '<br><strong>ongoing</strong>' : ''}</td>
<td class="n">${fmt(o.spanMinutes)}</td>
<td class="n">${fmt(p.counted)}</td>
<td>${o.clause === 'short-outage' ? `short outage: ${fmt(p.shortOutage)} min excluded` : ''}${p.maintenance ? `<br>maintenance: ${fmt(p.maintenance)}` : ''}${p.operatorExcluded ? `<br>excluded by operator: ${fmt(p.operatorExcluded)}` : ''}${p.outsideServiceTime ? `<br>outside service time: ${fmt(p.outsideServiceTime)}` : ''}</td>
<td class="ev">${[cause, alerts, incidents, healing, maint, excl].filter(Boolean).join('<br>')}</td>
</tr>`;
  });
  return `<table><thead><tr><th scope="col">From / to</th><th scope="col">Length (min)</th><th scope="col">Counted (min)</th><th scope="col">Clauses</th><th scope="col">Evidence</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

export function renderReportHtml(r: SlaReport): string {
  const f = r.figures;
  const zone = f.timeZone;
  const frozen = r.frozen
    ? `<p class="frozen">Frozen ${esc(when(r.frozen.frozenAt, zone))} by ${esc(r.frozen.frozenBy)}; inputs SHA-256 <code>${esc(r.frozen.inputsSha256)}</code>.</p>` +
      (r.frozen.evidenceChanged
        ? `<p class="warn" role="alert"><strong>The evidence changed since this report was frozen.</strong> The inputs now hash to <code>${esc(r.inputsSha256)}</code>. The figures below are the frozen ones; recomputed from today’s records the availability is ${esc(r.frozen.recomputed?.availability ?? '–')} % (${esc(r.frozen.recomputed?.status ?? '')}).</p>`
        : '<p>Recomputed from today’s records: the same hash. The evidence is unchanged.</p>')
    : `<p>Inputs SHA-256 <code>${esc(r.inputsSha256)}</code>${r.freezesAt ? `; frozen by the first report after ${esc(when(r.freezesAt, zone))}` : ''}.</p>`;
  const policies = r.policies
    .map(
      (p) =>
        `<li>Version ${esc(p.version)} from ${esc(when(p.effectiveFrom, zone))}: target ${esc(p.target)} % per ${esc(p.period)}, ${esc(p.timeZone)}; service time ${esc(p.serviceTime)}; outages up to ${esc(p.excludeOutagesUpToMinutes)} min excluded (outages less than ${esc(p.mergeGapMinutes)} min apart merged first); degraded weight ${esc(p.partialWeight)}; ${p.maintenanceNoticeHours === null ? 'no maintenance clause' : `announced maintenance excluded with ${esc(p.maintenanceNoticeHours)} h notice${p.maintenanceMaxHours === null ? '' : `, at most ${esc(p.maintenanceMaxHours)} h`}${p.maintenanceMaxCount === null ? '' : `, at most ${esc(p.maintenanceMaxCount)} windows`} per ${esc(p.period)}`}; unknown ${p.unknownCountsAsDown ? 'counts as down' : 'left out of the measured time'}.</li>`,
    )
    .join('\n');
  const maintenance = f.maintenance.length
    ? `<table><thead><tr><th scope="col">#</th><th scope="col">Window</th><th scope="col">Announced</th><th scope="col">Verdict</th><th scope="col">Excluded (min)</th><th scope="col">Reason</th></tr></thead><tbody>${f.maintenance
        .map(
          (m) =>
            `<tr><td>${esc(m.id)}</td><td>${esc(when(m.start, zone))} – ${esc(when(m.end, zone))}</td><td>${m.announcedAt === null ? 'not announced' : esc(when(m.announcedAt, zone))}</td><td>${esc(m.verdict)}: ${esc(m.why)}</td><td class="n">${fmt(m.excludedMinutes)}</td><td>${esc(m.reason)}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p>No maintenance in this period.</p>';
  const exclusions = f.exclusions.length
    ? `<table><thead><tr><th scope="col">#</th><th scope="col">Span</th><th scope="col">By</th><th scope="col">Excluded (min)</th><th scope="col">Reason</th></tr></thead><tbody>${f.exclusions
        .map(
          (e) =>
            `<tr><td>${esc(e.id)}</td><td>${esc(when(e.start, zone))} – ${esc(when(e.end, zone))}</td><td>${esc(e.by)}</td><td class="n">${fmt(e.excludedMinutes)}</td><td>${esc(e.reason)}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p>No operator exclusion in this period.</p>';
  const projected = f.projected
    ? `<p>The period has not ended: measured to ${esc(when(f.asOf, zone))}. If nothing is down from now on, the period ends at ${esc(f.projected.availability ?? '–')} %.</p>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SLA report ${esc(r.tenant)} ${esc(r.period)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;color:#111;margin:2rem auto;max-width:60rem;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:1.6rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.25rem .45rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.ev{font-size:12px}
.summary{display:flex;gap:1rem;flex-wrap:wrap}.summary div{border:1px solid #ccc;padding:.5rem .8rem;min-width:9rem}
.summary b{display:block;font-size:1.4rem}.met b{color:#0a6b2b}.missed b{color:#a40000}
.warn{border:2px solid #a40000;padding:.5rem;color:#a40000}code{font-size:12px;word-break:break-all}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}tr{break-inside:avoid}}
@page{size:A4;margin:15mm}
</style>
</head>
<body>
<h1>SLA report: ${esc(r.tenant)}, ${esc(r.period)}</h1>
<p>${esc(when(f.from, zone))} – ${esc(when(f.to, zone))} (${esc(zone)}). Generated ${esc(when(r.generatedAt, zone))}. Checks: ${r.checks.map((c) => `#${esc(c.id)} ${esc(c.stage ?? '')} ${esc(c.builtin ?? c.kind)}`).join(', ') || 'none'}.</p>
<div class="summary">
<div class="${f.status === 'met' || f.status === 'on-track' ? 'met' : f.status === 'missed' ? 'missed' : ''}"><span>Status</span><b>${esc(statusWords[f.status])}</b></div>
<div><span>Availability</span><b>${f.availability === null ? '–' : `${esc(f.availability)} %`}</b></div>
<div><span>Target</span><b>${esc(f.target)} %</b></div>
<div><span>Budget left</span><b>${fmt(f.budgetLeftMinutes)} min</b></div>
</div>
${projected}
${frozen}
<h2>Minutes</h2>
<table><tbody>${minutesRows(f.minutes)}</tbody></table>
<p>${esc(r.unknownTreatment)}.${f.uncoveredMinutes > 0 ? ` ${fmt(f.uncoveredMinutes)} minutes before the first policy version are not accounted.` : ''}</p>
<h2>Policy</h2>
<ul>${policies}</ul>
<h2>Outages</h2>
${outageRows(r.outages, zone)}
<h2>Maintenance</h2>
${maintenance}
<h2>Exclusions by an operator</h2>
${exclusions}
</body>
</html>
`;
}
