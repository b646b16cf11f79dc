/**
 * When a log line was written, read from the line itself: Steward's log files
 * hold what the app printed, without a timestamp of their own. A JSON line
 * carries it in `time` or `ts` (an ISO string, or epoch milliseconds or
 * seconds); a text line may start with an ISO time, bracketed or not.
 */
const leadingTime =
  /^\[?(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)(Z|[+-]\d{2}(?::?\d{2})?)?(?=[\]\s]|$)/;

/** Epoch milliseconds of the line's timestamp, or undefined when it has none. */
export function logLineTime(line: string): number | undefined {
  const text = line.trimStart();
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed !== null && typeof parsed === 'object') {
      const record = parsed as Record<string, unknown>;
      return timeValue(record.time) ?? timeValue(record.ts);
    }
  }
  const match = leadingTime.exec(text);
  if (!match) return undefined;
  const zone = match[3] ?? '';
  // Date.parse wants ±HH:MM; lines also write ±HHMM and ±HH.
  const offset =
    zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone.length === 3 ? `${zone}:00` : zone;
  const parsed = Date.parse(`${match[1]}T${(match[2] ?? '').replace(',', '.')}${offset}`);
  return Number.isNaN(parsed) ? undefined : parsed;
}

function timeValue(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) {
    // Epoch seconds (possibly fractional) are below 10^11 until the year 5138.
    return value < 1e11 ? Math.round(value * 1000) : value;
  }
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

/** With `since`, a line is kept only when its timestamp is at or after it; lines without one are dropped. */
export function keepSince(line: string, since: number | undefined): boolean {
  if (since === undefined) return true;
  const time = logLineTime(line);
  return time !== undefined && time >= since;
}
