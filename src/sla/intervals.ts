/**
 * Sets of time as sorted, disjoint, half-open spans [start, end) of epoch
 * milliseconds. Every figure of an SLA report is the length of such a set.
 */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export type SpanSet = readonly Span[];

/** Sorts, drops empty spans and joins touching or overlapping ones. */
export function normalize(spans: readonly Span[]): Span[] {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out.at(-1);
    if (last && s.start <= last.end)
      out[out.length - 1] = { start: last.start, end: Math.max(last.end, s.end) };
    else out.push({ start: s.start, end: s.end });
  }
  return out;
}

export function intersect(a: SpanSet, b: SpanSet): Span[] {
  const out: Span[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Span;
    const y = b[j] as Span;
    const start = Math.max(x.start, y.start);
    const end = Math.min(x.end, y.end);
    if (end > start) out.push({ start, end });
    if (x.end < y.end) i++;
    else j++;
  }
  return out;
}

/** What of `a` is not in `b`. */
export function subtract(a: SpanSet, b: SpanSet): Span[] {
  const out: Span[] = [];
  let j = 0;
  for (const x of a) {
    let start = x.start;
    while (j < b.length && (b[j] as Span).end <= start) j++;
    let k = j;
    while (k < b.length && (b[k] as Span).start < x.end) {
      const y = b[k] as Span;
      if (y.start > start) out.push({ start, end: y.start });
      start = Math.max(start, y.end);
      k++;
    }
    if (start < x.end) out.push({ start, end: x.end });
  }
  return out;
}

export function union(a: SpanSet, b: SpanSet): Span[] {
  return normalize([...a, ...b]);
}

export function total(spans: SpanSet): number {
  let sum = 0;
  for (const s of spans) sum += s.end - s.start;
  return sum;
}

export function clip(spans: SpanSet, within: Span): Span[] {
  return intersect(spans, [within]);
}
