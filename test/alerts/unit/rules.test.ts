import { describe, expect, it } from 'vitest';
import {
  alertRuleSchema,
  defaultRules,
  evaluate,
  ruleFor,
  type CheckSituation,
  type OpenCheckAlert,
} from '../../../src/alerts/rules.ts';

const flap = { changes: 4, windowSeconds: 600 };
const since = '2026-12-06T12:00:00.000Z';
const check = (over: Partial<CheckSituation> = {}): CheckSituation => ({
  id: '7',
  tenant: 'acme',
  stage: 'prod',
  kind: 'http',
  builtin: 'gateway',
  target: 'GET /healthz via gateway',
  state: 'down',
  since,
  seen: 'GET /healthz answered 503',
  recentChanges: 1,
  ...over,
});
const open = (over: Partial<OpenCheckAlert> = {}): OpenCheckAlert => ({
  id: '42',
  flapping: false,
  resolveAt: null,
  ...over,
});
const rule = (input: unknown) => alertRuleSchema.parse(input);

describe('default rules', () => {
  it.each([
    ['gateway', 'http', 'stage-down'],
    ['database', 'database', 'stage-database-down'],
    ['backup', 'backup', 'stage-backup'],
    ['certificate', 'certificate', 'stage-certificate'],
    ['disk', 'disk', 'stage-disk'],
    ['process', 'process', 'stage-down'],
    [null, 'http', 'stage-down'],
  ] as const)('a %s check (%s) is covered by %s', (builtin, kind, name) => {
    expect(ruleFor(defaultRules, check({ builtin, kind }))?.name).toBe(name);
  });
});

describe('evaluate', () => {
  it.each<[string, CheckSituation, OpenCheckAlert | undefined, unknown[]]>([
    [
      'down, no alert: fires at once (the check needed 2 failures already)',
      check(),
      undefined,
      [{ kind: 'open', status: 'firing', fireAt: null, severity: 'critical', flapping: false }],
    ],
    ['degraded is not down', check({ state: 'degraded' }), undefined, []],
    ['unknown says nothing (Steward was not probing)', check({ state: 'unknown' }), open(), []],
    ['up with no alert: nothing', check({ state: 'up' }), undefined, []],
    ['down with its alert open: nothing', check(), open(), []],
    [
      'up: resolves',
      check({ state: 'up' }),
      open(),
      [{ kind: 'resolve', id: '42', note: 'the check is up again' }],
    ],
    ['down after degraded stays open until up', check({ state: 'degraded' }), open(), []],
    [
      'down again while resolving: held open',
      check(),
      open({ resolveAt: '2026-12-06T12:10:00.000Z' }),
      [{ kind: 'hold', id: '42' }],
    ],
    [
      'flapping while down: marked',
      check({ recentChanges: 4 }),
      open(),
      [{ kind: 'mark-flapping', id: '42' }],
    ],
    [
      'flapping and up: resolves only after the window',
      check({ state: 'up', recentChanges: 5 }),
      open(),
      [
        { kind: 'mark-flapping', id: '42' },
        { kind: 'resolve-at', id: '42', at: '2026-12-06T12:10:00.000Z' },
      ],
    ],
    [
      'flapping, already resolving: nothing new',
      check({ state: 'up', recentChanges: 6 }),
      open({ flapping: true, resolveAt: '2026-12-06T12:10:00.000Z' }),
      [],
    ],
    [
      'flapping from the start: the new alert is marked',
      check({ recentChanges: 4 }),
      undefined,
      [{ kind: 'open', flapping: true }],
    ],
  ])('%s', (_what, situation, alert, expected) => {
    const steps = evaluate(defaultRules, situation, alert, flap);
    expect(steps).toHaveLength(expected.length);
    expected.forEach((e, i) => expect(steps[i]).toMatchObject(e as object));
  });

  it('a rule with a duration is pending until it has held that long, then fires', () => {
    const rules = [rule({ name: 'slow', match: { kind: 'http' }, for: '2m', heal: 'restart-process' })];
    expect(evaluate(rules, check(), undefined, flap)).toMatchObject([
      { kind: 'open', status: 'pending', fireAt: '2026-12-06T12:02:00.000Z', heal: 'restart-process' },
    ]);
  });

  it('a rule with a resolve duration waits for the check to stay up', () => {
    const rules = [rule({ name: 'steady', match: {}, resolveAfter: '5m' })];
    expect(evaluate(rules, check({ state: 'up' }), open(), flap)).toEqual([
      { kind: 'resolve-at', id: '42', at: '2026-12-06T12:05:00.000Z' },
    ]);
  });

  it('degraded-or-down rules fire on degraded; rules match tenant, stage, kind and builtin', () => {
    const rules = [
      rule({ name: 'acme-prod-operator', match: { tenant: 'acme', stage: 'prod', builtin: 'operator' } }),
      rule({ name: 'disk', match: { kind: 'disk' }, condition: 'degraded-or-down', severity: 'warning' }),
    ];
    expect(evaluate(rules, check({ builtin: null, state: 'down' }), undefined, flap)[0]).toMatchObject({
      rule: { name: 'acme-prod-operator' },
    });
    expect(evaluate(rules, check({ stage: 'dev', builtin: null }), undefined, flap)).toEqual([]);
    expect(
      evaluate(rules, check({ kind: 'disk', builtin: 'disk', state: 'degraded' }), undefined, flap)[0],
    ).toMatchObject({ severity: 'warning', summary: 'disk check degraded: GET /healthz via gateway' });
  });

  it('an open alert no rule covers any more resolves', () => {
    expect(evaluate([], check(), open(), flap)).toEqual([
      { kind: 'resolve', id: '42', note: 'no rule covers the check any more' },
    ]);
  });

  it('refuses bad rules naming the field, the value and what is accepted', () => {
    const bad: [unknown, RegExp][] = [
      [{ name: 'x', for: 'soon' }, /field "for": "soon" is not a duration/],
      [{ name: 'x', condition: 'up' }, /condition/],
      [{ name: 'x', severity: 'fatal' }, /severity/],
      [{ name: 'x', heal: 'reboot' }, /heal/],
      [{ name: 'Bad Name' }, /lower-case/],
      [{ name: 'x', match: { kind: 'ping' } }, /kind/],
    ];
    for (const [input, message] of bad) {
      const parsed = alertRuleSchema.safeParse(input);
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')).toMatch(
        message,
      );
    }
  });
});
