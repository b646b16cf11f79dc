import type { Component, ComponentState, DayBar, PublicIncident, StatusPageModel } from './model.ts';

/**
 * Server-rendered status page: semantic HTML, inline CSS, no script. Every
 * string from the control database is escaped. Colours pass WCAG AA against
 * their background; each bar row has a text alternative naming its bad days.
 */
const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const stateText: Readonly<Record<ComponentState, string>> = {
  operational: 'Operational',
  degraded: 'Degraded performance',
  outage: 'Outage',
  maintenance: 'Under maintenance',
  'no-data': 'No data',
};

const css = `:root{color-scheme:light}*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#f6f8fa;margin:0}
header,main,footer{max-width:52rem;margin:0 auto;padding:1rem}
header{padding-top:2rem}h1{font-size:1.6rem;margin:0}h2{font-size:1.2rem;margin:2rem 0 .75rem}
h3{font-size:1rem;margin:0}.sum{font-size:1.1rem;padding:1rem;border-radius:6px;color:#fff;margin-top:1rem}
.s-operational{background:#1a7f37}.s-degraded,.s-maintenance{background:#7d4e00}.s-outage{background:#b3261e}.s-no-data{background:#57606a}
ul.c,ol.u{list-style:none;padding:0;margin:0}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:1rem;margin-bottom:.75rem}
.row{display:flex;justify-content:space-between;gap:.5rem;flex-wrap:wrap;align-items:baseline}
.st{font-weight:600}.t-operational{color:#1a7f37}.t-degraded,.t-maintenance{color:#7d4e00}.t-outage{color:#b3261e}.t-no-data{color:#57606a}
.bars{display:flex;gap:1px;height:2.2rem;margin:.6rem 0 .3rem}.bars span{flex:1;border-radius:1px;min-width:1px}
.b-up{background:#2da44e}.b-minor{background:#bf8700}.b-major{background:#cf222e}.b-none{background:#d0d7de}
.legend{display:flex;justify-content:space-between;font-size:.85rem;color:#57606a}
time,.meta{color:#57606a;font-size:.9rem}ol.u li{border-left:3px solid #d0d7de;padding:.25rem 0 .25rem .75rem;margin:.5rem 0}
.none{color:#57606a}form.sub{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center}form.sub input{flex:1;min-width:12rem;font:inherit;padding:.4rem;border:1px solid #57606a;border-radius:4px}
button{font:inherit;padding:.4rem 1rem;border:0;border-radius:4px;background:#0950a8;color:#fff;cursor:pointer}footer{font-size:.85rem;color:#57606a;padding-bottom:2rem}
@media (max-width:30rem){header,main,footer{padding:.75rem}.bars{height:1.8rem}h1{font-size:1.35rem}}`;

function barClass(day: DayBar): string {
  if (day.uptime === null) return 'b-none';
  if (day.uptime >= 99.95) return 'b-up';
  return day.uptime >= 95 ? 'b-minor' : 'b-major';
}

function barsLabel(component: Component): string {
  const bad = component.days.filter((d) => d.uptime !== null && d.uptime < 99.95);
  const empty = component.days.filter((d) => d.uptime === null).length;
  const parts = [
    `Uptime over the last ${component.days.length} days: ${component.uptime === null ? 'no data' : `${component.uptime.toFixed(2)} %`}`,
    bad.length === 0
      ? 'no day with downtime'
      : `days with downtime: ${bad.map((d) => `${d.date} ${(d.uptime ?? 0).toFixed(2)} %`).join(', ')}`,
  ];
  if (empty > 0) parts.push(`${empty} ${empty === 1 ? 'day' : 'days'} without data`);
  return parts.join('; ');
}

function renderComponent(c: Component): string {
  const bars = c.days
    .map((d) => {
      const title = d.uptime === null ? `${d.date}: no data` : `${d.date}: ${d.uptime.toFixed(2)} %`;
      return `<span class="${barClass(d)}" title="${title}"></span>`;
    })
    .join('');
  const first = c.days[0]?.date ?? '';
  return `<li class="card"><div class="row"><h3>${escape(c.name)}</h3><span class="st t-${c.state}">${stateText[c.state]}</span></div>
<div class="bars" role="img" aria-label="${escape(barsLabel(c))}">${bars}</div>
<div class="legend" aria-hidden="true"><span>${first}</span><span>${c.uptime === null ? 'no data' : `${c.uptime.toFixed(2)} % uptime`}</span><span>today</span></div></li>`;
}

function renderIncident(i: PublicIncident): string {
  const updates = i.updates
    .map(
      (u) =>
        `<li><strong>${escape(capitalise(u.status))}</strong> <time datetime="${u.at}">${shortTime(u.at)}</time><br>${escape(u.note)}</li>`,
    )
    .join('');
  return `<li class="card"><h3>${escape(i.title)}</h3><p class="meta">${escape(capitalise(i.status))}</p><ol class="u">${updates}</ol></li>`;
}

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const shortTime = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

function overall(model: StatusPageModel): { state: ComponentState; text: string } {
  const states = model.components.map((c) => c.state);
  if (states.includes('outage')) return { state: 'outage', text: 'Some systems are down' };
  if (states.includes('degraded')) return { state: 'degraded', text: 'Some systems are degraded' };
  if (states.includes('maintenance')) return { state: 'maintenance', text: 'Maintenance in progress' };
  if (states.includes('operational')) return { state: 'operational', text: 'All systems operational' };
  return { state: 'no-data', text: 'No monitoring data yet' };
}

const list = (items: readonly string[], empty: string): string =>
  items.length === 0 ? `<p class="none">${empty}</p>` : `<ul class="c">${items.join('\n')}</ul>`;

export function renderStatusPage(model: StatusPageModel): string {
  const sum = overall(model);
  const maintenance = model.maintenance.map(
    (m) =>
      `<li class="card"><h3>${escape(m.reason)}</h3><p class="meta">${escape(m.component)}: <time datetime="${m.start}">${shortTime(m.start)}</time> to <time datetime="${m.end}">${shortTime(m.end)}</time></p></li>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(model.title)}</title><style>${css}</style></head>
<body><header><h1>${escape(model.title)}</h1><p class="sum s-${sum.state}" role="status">${sum.text}</p></header>
<main>
<section aria-labelledby="h-current"><h2 id="h-current">Current incidents</h2>${list(model.current.map(renderIncident), 'No current incidents.')}</section>
<section aria-labelledby="h-maintenance"><h2 id="h-maintenance">Planned maintenance</h2>${list(maintenance, 'No maintenance planned.')}</section>
<section aria-labelledby="h-components"><h2 id="h-components">Components</h2>${list(model.components.map(renderComponent), 'No components.')}</section>
<section aria-labelledby="h-history"><h2 id="h-history">Past incidents (90 days)</h2>${list(model.history.map(renderIncident), 'No incidents in the last 90 days.')}</section>
${model.subscribe === true ? subscribeForm : ''}</main>
<footer><p>Updated <time datetime="${model.generatedAt}">${shortTime(model.generatedAt)}</time>. Uptime counts only monitored time; grey days had no monitoring data.</p></footer>
</body></html>
`;
}

const subscribeForm = `<section aria-labelledby="h-subscribe"><h2 id="h-subscribe">Updates by email</h2>
<form method="post" class="sub"><label for="email">Email address</label><input id="email" name="email" type="email" required maxlength="254" autocomplete="email"><button type="submit">Subscribe</button></form></section>
`;

/** A short page: a subscription's steps, a refusal. `action` adds a button that POSTs to the same address. */
export function messagePage(title: string, message: string, action?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title><style>body{font:16px/1.5 system-ui,sans-serif;color:#1f2328;margin:0}main{max-width:34rem;margin:12vh auto;padding:1rem}
button{font:inherit;padding:.4rem 1rem;border:0;border-radius:4px;background:#0950a8;color:#fff}</style></head>
<body><main><h1>${escape(title)}</h1><p>${escape(message)}</p>${action ? `<form method="post"><button type="submit">${escape(action)}</button></form>` : ''}</main></body></html>
`;
}

/** The answer to a wrong, old or malformed link: names nothing. */
export const notFoundPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not found</title><style>body{font:16px/1.5 system-ui,sans-serif;color:#1f2328;margin:0}main{max-width:34rem;margin:12vh auto;padding:1rem}</style></head>
<body><main><h1>Not found</h1><p>There is no status page at this address. If you were given a link, ask for a current one.</p></main></body></html>
`;
