import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { parsePostmortem } from '../../src/incidents/index.ts';
import {
  formatBytes,
  formatDuration,
  looksLikePeriod,
  monthOf,
  place,
  present,
  previousMonthOf,
  windowState,
} from '../../web/src/pages/ops-kit/format.ts';
import { postmortemDocument, postmortemFields } from '../../web/src/pages/incidents/postmortem.ts';
import { memberList } from '../../web/src/pages/oncall/types.ts';
import { fingerprintVerdict } from '../../web/src/pages/backups/types.ts';
import { canAcknowledge, canResolve } from '../../web/src/pages/alerts/types.ts';

/**
 * The operator pages' pure parts: formatting, the post-mortem form's
 * document (parsed by the incident service's own parser), and the message
 * catalogues (every key a page asks for exists, in English and German).
 */
const areas = [
  'alerts',
  'oncall',
  'incidents',
  'sla',
  'maintenance',
  'backups',
  'audit',
  'access',
  'settings',
];
const pagesDir = join(import.meta.dirname, '../../web/src/pages');

describe('formatting', () => {
  it.each([
    [null, '–'],
    [-1, '–'],
    [850, '850 ms'],
    [42_000, '42 s'],
    [185_000, '3 min 5 s'],
    [120_000, '2 min'],
    [7_800_000, '2 h 10 min'],
    [3_600_000, '1 h'],
    [273_600_000, '3 d 4 h'],
    [172_800_000, '2 d'],
  ] as const)('duration %s ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([
    [512, '512 B'],
    [1536, '1.5 KiB'],
    [20 * 1024 * 1024, '20 MiB'],
    [3.2 * 1024 ** 3, '3.2 GiB'],
    [null, '–'],
  ] as const)('%s bytes read %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('names a place: tenant and stage, a whole tenant, or nothing', () => {
    expect(place('acme', 'prod')).toBe('acme/prod');
    expect(place('acme', null)).toBe('acme');
    expect(place(null, null, 'Steward')).toBe('Steward');
  });

  it('finds the SLA months of a day, across a year', () => {
    expect(monthOf(new Date('2026-12-07T10:00:00Z'))).toBe('2026-12');
    expect(previousMonthOf(new Date('2026-01-31T23:00:00Z'))).toBe('2025-12');
    for (const period of ['2026-03', '2026-Q1', '2026']) expect(looksLikePeriod(period)).toBe(true);
    for (const period of ['2026-13', '2026-Q5', '26', 'march']) expect(looksLikePeriod(period)).toBe(false);
  });

  it('tells where a maintenance window stands', () => {
    const w = { startsAt: '2026-12-07T10:00:00Z', endsAt: '2026-12-07T12:00:00Z' };
    expect(windowState(w, new Date('2026-12-07T09:00:00Z'))).toBe('planned');
    expect(windowState(w, new Date('2026-12-07T11:00:00Z'))).toBe('current');
    expect(windowState(w, new Date('2026-12-07T12:00:00Z'))).toBe('past');
    expect(windowState({ ...w, cancelledAt: '2026-12-06T00:00:00Z' }, new Date('2026-12-07T11:00:00Z'))).toBe(
      'cancelled',
    );
  });

  it('sends only the fields a form filled in, trimmed', () => {
    expect(present({ tenant: ' acme ', stage: '', for: '2h', note: undefined })).toEqual({
      tenant: 'acme',
      for: '2h',
    });
    expect(memberList(' anna, ben ,, carla ')).toEqual(['anna', 'ben', 'carla']);
  });

  it('reads an alert and a restore test at a glance', () => {
    expect(canAcknowledge({ status: 'firing' })).toBe(true);
    expect(canAcknowledge({ status: 'acknowledged' })).toBe(false);
    expect(canResolve({ status: 'acknowledged' })).toBe(true);
    expect(canResolve({ status: 'resolved' })).toBe(false);
    expect(fingerprintVerdict({ verification: null })).toBe('none');
    const fingerprint = { ok: false, exact: true, why: 'rows differ', takenByTest: false, tables: [] };
    expect(fingerprintVerdict({ verification: { fingerprint, app: null } })).toBe('bad');
  });
});

describe('the post-mortem form', () => {
  const form = {
    cause: ' The pool ran out. ',
    impactSummary: 'Sign-in failed for 42 minutes.',
    slaMinutes: '42',
    actionWhat: 'Limit queries per login',
    actionOwner: 'anna',
    actionDue: '2026-12-20',
    checkWhat: '',
    checkWhy: '',
  };

  it('writes a document the incident service accepts', () => {
    expect(parsePostmortem(postmortemDocument(form))).toEqual({
      cause: 'The pool ran out.',
      impact: { slaMinutes: 42, summary: 'Sign-in failed for 42 minutes.' },
      actions: [{ what: 'Limit queries per login', owner: 'anna', due: '2026-12-20' }],
      checks: [],
    });
  });

  it.each([
    ['actionDue', '2026-02-30'],
    ['actionOwner', 'anna smith'],
    ['slaMinutes', 'forty'],
    ['cause', ''],
  ] as const)('a bad %s is named by the field of its input', (key, value) => {
    let error: unknown;
    try {
      parsePostmortem(postmortemDocument({ ...form, [key]: value }));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InputError);
    // The form's input carries this name, so the message lands under it.
    expect((error as InputError).field).toBe(postmortemFields[key]);
  });
});

describe('messages', () => {
  // The shell's catalogue (ui.*, state.*), read as text: it imports the shell's TSX.
  const shellKeys = async () =>
    [...(await readFile(join(pagesDir, '../app/messages.ts'), 'utf8')).matchAll(/^\s+'([\w.-]+)':/gm)].map(
      (m) => m[1]!,
    );

  it.each(areas)('every key the %s pages ask for exists in English and German', async (area) => {
    const { messages } = (await import(`../../web/src/pages/${area}/index.ts`)) as {
      messages: { en: Record<string, string>; de: Record<string, string> };
    };
    expect(Object.keys(messages.de).sort()).toEqual(Object.keys(messages.en).sort());
    const all = new Set([...(await shellKeys()), ...Object.keys(messages.en)]);
    for (const other of areas) {
      const imported = (await import(`../../web/src/pages/${other}/index.ts`)) as {
        messages: { en: Record<string, string> };
      };
      for (const key of Object.keys(imported.messages.en)) all.add(key);
    }
    const files = (await readdir(join(pagesDir, area))).filter((name) => name.endsWith('.tsx'));
    const missing: string[] = [];
    for (const file of files) {
      const text = await readFile(join(pagesDir, area, file), 'utf8');
      // Literal keys; keys built at run time (`incidents.status.${s}`) are checked by their prefix.
      for (const match of text.matchAll(/\bt\(\s*'([a-z][\w.-]*)'/g)) {
        if (!all.has(match[1]!)) missing.push(`${file}: ${match[1]}`);
      }
      for (const match of text.matchAll(/\bt\(\s*`([a-z][\w.-]*\.)\$\{/g)) {
        if (![...all].some((key) => key.startsWith(match[1]!))) missing.push(`${file}: ${match[1]}…`);
      }
    }
    expect(missing).toEqual([]);
  });
});
