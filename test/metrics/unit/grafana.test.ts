import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.ts';
import { createAccessLogMetrics } from '../../../src/dataplane/access-log-receiver.ts';
import { createGatewayMetrics } from '../../../src/gateway/metrics.ts';
import { StewardMetrics } from '../../../src/metrics/index.ts';
import { EventHub } from '../../../src/events/index.ts';
import { haproxyDashboardSeries } from '../../dataplane/haproxy-series.ts';

/**
 * deploy/grafana/steward.json against what /metrics serves: every PromQL
 * expression (panels and template variables) names only series Steward
 * exports (or HAProxy's exporter, at /metrics/haproxy), and every family
 * Steward exports has a panel.
 */
const dashboardFile = join(import.meta.dirname, '..', '..', '..', 'deploy', 'grafana', 'steward.json');

/** Series names Steward's /metrics serves: each family, with a histogram's _bucket, _sum and _count. */
function exported(): { families: string[]; series: Set<string> } {
  const metrics = new StewardMetrics({ clock: systemClock });
  createGatewayMetrics({ registry: metrics.registry });
  createAccessLogMetrics(metrics.registry);
  // The consoles' live updates register theirs on the same registry (never started here: no LISTEN).
  new EventHub({ pool: new pg.Pool(), logger: pino({ level: 'silent' }), registry: metrics.registry });
  const families = metrics.registry.getMetricsAsArray().map((m) => ({ name: m.name, type: m.type }));
  const series = new Set<string>();
  for (const { name, type } of families) {
    if (String(type) === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) series.add(name + suffix);
    else series.add(name);
  }
  return { families: families.map((f) => f.name), series };
}

/**
 * The metric names in a PromQL expression: identifiers left after removing
 * strings, label matchers, ranges, grouping clauses, and functions (an
 * identifier followed by "(").
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+\S+/g, ' ');
  const keywords = new Set([
    'and',
    'or',
    'unless',
    'bool',
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
  ]);
  const names: string[] = [];
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
    const [whole, call] = match;
    const name = whole.replace(/\s*\($/, '');
    if (call || keywords.has(name)) continue;
    names.push(name);
  }
  return names;
}

interface Panel {
  readonly type: string;
  readonly title: string;
  readonly datasource?: { uid: string };
  readonly targets?: { expr: string }[];
  readonly panels?: Panel[];
}

describe('the Grafana dashboard', () => {
  it('reads the metric names out of PromQL', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le, kind) (rate(steward_job_duration_seconds_bucket{kind=~"a|b"}[$__rate_interval])))',
      ),
    ).toEqual(['steward_job_duration_seconds_bucket']);
    expect(metricNames('time() - steward_loop_last_progress_timestamp_seconds')).toEqual([
      'steward_loop_last_progress_timestamp_seconds',
    ]);
    expect(metricNames('a_total / on (tenant) group_left b_total offset 5m != 0')).toEqual([
      'a_total',
      'b_total',
    ]);
  });

  it('uses only series Steward exports, and has a panel for each of them', async () => {
    const dashboard = JSON.parse(await readFile(dashboardFile, 'utf8')) as {
      panels: Panel[];
      templating: { list: { name: string; type: string; query: unknown; datasource?: { uid: string } }[] };
    };
    const { families, series } = exported();
    const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
    const exprs: { where: string; expr: string }[] = panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })),
    );
    const variables = dashboard.templating.list;
    for (const v of variables.filter((x) => x.type === 'query')) {
      const query = (v.query as { query: string }).query;
      const inner = /^label_values\((.*),\s*[a-z_]+\)$/.exec(query);
      expect(inner, query).not.toBeNull();
      exprs.push({ where: `variable $${v.name}`, expr: inner?.[1] ?? '' });
    }
    expect(exprs.length).toBeGreaterThan(20);
    const used = new Set<string>();
    for (const { where, expr } of exprs) {
      const names = metricNames(expr);
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        // HAProxy's own series come through /metrics/haproxy (test/dataplane/observability.test.ts checks them).
        const known = series.has(name) || haproxyDashboardSeries.includes(name);
        expect(known, `${where} names ${name}, which neither Steward nor its HAProxy exports`).toBe(true);
        used.add(name);
      }
    }
    for (const family of families) {
      const covered = [family, `${family}_bucket`, `${family}_sum`, `${family}_count`].some((n) =>
        used.has(n),
      );
      expect(covered, `no panel shows ${family}`).toBe(true);
    }
    // The datasource is a variable, and panels filter by tenant and stage.
    expect(variables.find((v) => v.name === 'datasource')).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
    });
    for (const p of panels) expect(p.datasource?.uid, p.title).toBe('${datasource}');
    expect(variables.map((v) => v.name)).toEqual(expect.arrayContaining(['tenant', 'stage']));
    expect(exprs.filter((e) => e.expr.includes('tenant=~"$tenant", stage=~"$stage"')).length).toBeGreaterThan(
      5,
    );
  });
});
