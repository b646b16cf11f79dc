/**
 * Why nobody is told about an alert: pure, over plain data. A silence or a
 * maintenance window of the alert's tenant (and stage, when it names one)
 * that covers `now`; or an open, told alert that inhibits it (a down shared
 * cluster mutes the stages on it). The alert is recorded either way.
 */
export interface MuteCandidate {
  readonly id: string;
  readonly tenant: string | null;
  readonly stage: string | null;
}

export interface Window {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string | null;
  readonly startsAt: string;
  readonly endsAt: string;
}

export interface Inhibitor extends MuteCandidate {
  readonly status: string;
  readonly inhibits: boolean;
  /** Inhibitors that are themselves muted still inhibit: the cause is known, the symptoms are noise. */
  readonly firedAt: string | null;
}

function covers(w: Window, a: MuteCandidate, now: number): boolean {
  return (
    a.tenant === w.tenant &&
    (w.stage === null || w.stage === a.stage) &&
    Date.parse(w.startsAt) <= now &&
    now < Date.parse(w.endsAt)
  );
}

/** Does the open alert `by` inhibit `a`? Only stage alerts are inhibited, and never by themselves. */
export function inhibits(by: Inhibitor, a: MuteCandidate): boolean {
  if (!by.inhibits || by.id === a.id || a.tenant === null) return false;
  if (by.status !== 'firing' && by.status !== 'acknowledged') return false;
  if (by.tenant === null) return true;
  return by.tenant === a.tenant && (by.stage === null || by.stage === a.stage);
}

/**
 * `silence:<id>`, `maintenance:<id>` or `alert:<id>`, or null when people are
 * told. A maintenance window comes first (it is planned work), then a
 * silence, then inhibition.
 */
export function mutedBy(
  a: MuteCandidate,
  context: {
    readonly now: Date;
    readonly maintenance: readonly Window[];
    readonly silences: readonly Window[];
    readonly open: readonly Inhibitor[];
  },
): string | null {
  const now = context.now.getTime();
  const window = context.maintenance.find((w) => covers(w, a, now));
  if (window) return `maintenance:${window.id}`;
  const silence = context.silences.find((s) => covers(s, a, now));
  if (silence) return `silence:${silence.id}`;
  // An inhibitor that is itself inhibited does not count (no chains): the oldest wins.
  const by = context.open.find((o) => inhibits(o, a) && !context.open.some((p) => inhibits(p, o)));
  return by ? `alert:${by.id}` : null;
}
