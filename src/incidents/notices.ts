/**
 * The notice deadlines of a security incident, and which reminders and
 * escalations are due: pure, over plain data (table-tested). Once a breach is
 * confirmed, the affected customers must be told within the tenant's contract
 * term (24 h by default) and the supervisory authority within 72 h (GDPR
 * Art. 33). Before each deadline people are reminded; when one passes with
 * nobody told, it is escalated. Each notice has an idempotency key, so the
 * timer-driven pass may enqueue what is due as often as it runs.
 */
export const noticeParties = ['customers', 'authority'] as const;
export type NoticeParty = (typeof noticeParties)[number];

export interface NoticeFacts {
  readonly id: string;
  readonly tenant: string;
  readonly title: string;
  /** null: no breach confirmed, no deadline runs. */
  readonly breachConfirmedAt: string | null;
  readonly customerNoticeSeconds: number | null;
  readonly authorityNoticeSeconds: number | null;
  readonly customersNotifiedAt: string | null;
  readonly customersNotifiedWho: string | null;
  readonly authorityNotifiedAt: string | null;
  readonly authorityNotifiedWho: string | null;
}

export const deadlineStates = ['open', 'missed', 'notified', 'notified-late'] as const;
export type DeadlineState = (typeof deadlineStates)[number];

export interface Deadline {
  readonly party: NoticeParty;
  readonly due: string;
  readonly state: DeadlineState;
  readonly notifiedAt: string | null;
  readonly notifiedWho: string | null;
}

const partyNames: Readonly<Record<NoticeParty, string>> = {
  customers: 'the affected customers',
  authority: 'the supervisory authority (GDPR Art. 33)',
};

/** The deadlines of a confirmed breach, as they stand at `now`. */
export function noticeDeadlines(i: NoticeFacts, now: Date): Deadline[] {
  if (i.breachConfirmedAt === null) return [];
  const confirmed = Date.parse(i.breachConfirmedAt);
  const rows: [NoticeParty, number | null, string | null, string | null][] = [
    ['customers', i.customerNoticeSeconds, i.customersNotifiedAt, i.customersNotifiedWho],
    ['authority', i.authorityNoticeSeconds, i.authorityNotifiedAt, i.authorityNotifiedWho],
  ];
  return rows.map(([party, seconds, notifiedAt, notifiedWho]) => {
    const due = confirmed + (seconds ?? 0) * 1000;
    const state: DeadlineState =
      notifiedAt !== null
        ? Date.parse(notifiedAt) <= due
          ? 'notified'
          : 'notified-late'
        : now.getTime() >= due
          ? 'missed'
          : 'open';
    return { party, due: new Date(due).toISOString(), state, notifiedAt, notifiedWho };
  });
}

export interface DueNotice {
  readonly key: string;
  readonly kind: 'incident-reminder' | 'incident-escalation';
  readonly party: NoticeParty;
  readonly subject: string;
  readonly body: string;
}

/** "2 h 5 min", "40 min", "30 s". */
export function formatSpan(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
}

/**
 * What is due at `now`: for each party not yet told, the reminder of the
 * nearest threshold passed (`remindBeforeMinutes` before the deadline; only
 * the nearest, so a late pass or a breach confirmed after the fact sends one
 * reminder, not a burst), or the escalation once the deadline passed.
 */
export function dueNotices(i: NoticeFacts, now: Date, remindBeforeMinutes: readonly number[]): DueNotice[] {
  const out: DueNotice[] = [];
  const how = (party: NoticeParty): string =>
    `When told, record it: steward incident notified ${i.id} --party ${party} --who "…" --at "…"`;
  for (const d of noticeDeadlines(i, now)) {
    if (d.state === 'notified' || d.state === 'notified-late') continue;
    const due = Date.parse(d.due);
    const what = `Security incident ${i.id} (${i.tenant}: ${i.title})`;
    if (d.state === 'missed') {
      out.push({
        key: `incident:${i.id}:${d.party}:missed`,
        kind: 'incident-escalation',
        party: d.party,
        subject: `MISSED: ${partyNames[d.party]} not told of security incident ${i.id} (${i.tenant})`,
        body:
          `${what}: ${partyNames[d.party]} had to be told by ${d.due}; ` +
          `${formatSpan(now.getTime() - due)} past that, nobody is recorded as told.\n` +
          `The breach was confirmed at ${i.breachConfirmedAt ?? '?'}.\n${how(d.party)}`,
      });
      continue;
    }
    const passed = remindBeforeMinutes
      .filter((m) => m > 0 && due - m * 60_000 <= now.getTime())
      .sort((a, b) => a - b);
    const nearest = passed[0];
    if (nearest === undefined) continue;
    out.push({
      key: `incident:${i.id}:${d.party}:remind:${nearest}`,
      kind: 'incident-reminder',
      party: d.party,
      subject: `${formatSpan(due - now.getTime())} left to tell ${partyNames[d.party]} of security incident ${i.id} (${i.tenant})`,
      body:
        `${what}: ${partyNames[d.party]} must be told by ${d.due} (in ${formatSpan(due - now.getTime())}).\n` +
        `The breach was confirmed at ${i.breachConfirmedAt ?? '?'}.\n${how(d.party)}`,
    });
  }
  return out;
}
