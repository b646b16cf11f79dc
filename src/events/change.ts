import { eventOps, isEventTopic, type ChangeEvent, type EventTopic } from './topics.ts';

/** The channel migration 0041's triggers notify on. */
export const eventsChannel = 'steward_events';

/**
 * A notification's payload as a change event, or undefined when it is not
 * one (a NOTIFY on the channel by hand, a topic from a newer migration).
 * Only the four fields are kept: nothing else of a row travels.
 */
export function parseChange(payload: string): ChangeEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { topic, op, tenant, id } = raw as Record<string, unknown>;
  if (typeof topic !== 'string' || !isEventTopic(topic)) return undefined;
  if (typeof op !== 'string' || !(eventOps as readonly string[]).includes(op) || op === 'many')
    return undefined;
  if (tenant !== null && typeof tenant !== 'string') return undefined;
  if (id !== null && typeof id !== 'string') return undefined;
  return { topic, op: op as ChangeEvent['op'], tenant, id };
}

/**
 * A burst as few events as say the same: one per row, with its last op (an
 * insert then an update is an update: a token created, then revoked, within
 * one burst must still end its streams), and past `maxPerTopic` rows of one
 * topic and tenant, one `many` event for them all. Order: by each row's last
 * change.
 */
export function coalesce(events: readonly ChangeEvent[], maxPerTopic: number): ChangeEvent[] {
  const rows = new Map<string, ChangeEvent>();
  for (const event of events) {
    const key = JSON.stringify([event.topic, event.tenant, event.id]);
    // Deleted and set again: the row moves to the end, where its last change is.
    rows.delete(key);
    rows.set(key, event);
  }
  const perTopic = new Map<string, number>();
  for (const event of rows.values()) {
    const key = JSON.stringify([event.topic, event.tenant]);
    perTopic.set(key, (perTopic.get(key) ?? 0) + 1);
  }
  const out: ChangeEvent[] = [];
  const collapsed = new Set<string>();
  for (const event of rows.values()) {
    const key = JSON.stringify([event.topic, event.tenant]);
    if ((perTopic.get(key) ?? 0) <= maxPerTopic) {
      out.push(event);
    } else if (!collapsed.has(key)) {
      collapsed.add(key);
      out.push({ topic: event.topic, op: 'many', tenant: event.tenant, id: null });
    }
  }
  return out;
}

/**
 * The topics with more than `max` events in one burst across tenants (a bulk
 * change: every stage's phase at once). An operator's stream gets one `many`
 * event per such topic instead (tenant null); a tenant admin's still gets its
 * own tenant's, which coalesce() already bounds.
 */
export function wideTopics(events: readonly ChangeEvent[], max: number): ReadonlySet<EventTopic> {
  const counts = new Map<EventTopic, number>();
  for (const event of events) counts.set(event.topic, (counts.get(event.topic) ?? 0) + 1);
  return new Set([...counts].filter(([, n]) => n > max).map(([topic]) => topic));
}
