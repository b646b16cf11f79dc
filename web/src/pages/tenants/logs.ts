import { pathOf } from '../../app/api.ts';

export interface LogEntry {
  readonly process: string;
  readonly instance: number;
  readonly line: string;
}

/** Lines kept in view: the newest, so a chatty stage does not grow the page without end. */
export const keptLines = 2000;

/**
 * Reads a stage's logs (NDJSON); with `follow` the response stays open and
 * new lines arrive as the processes write them, until `signal` aborts.
 */
export async function readLogs(
  tenant: string,
  stage: string,
  options: { readonly follow: boolean; readonly lines: number; readonly signal: AbortSignal },
  onLines: (lines: LogEntry[]) => void,
): Promise<void> {
  const path = pathOf('/api/v1/tenants/{tenant}/stages/{stage}/logs', {
    params: { tenant, stage },
    query: { lines: options.lines, follow: options.follow ? 'true' : 'false' },
  });
  const response = await fetch(path, { credentials: 'same-origin', signal: options.signal });
  if (!response.ok || !response.body) {
    const text = await response.text();
    throw new Error(parseMessage(text) ?? `HTTP ${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const parts = (rest + value).split('\n');
    rest = parts.pop() ?? '';
    const entries = parts.flatMap((part) => {
      try {
        return part ? [JSON.parse(part) as LogEntry] : [];
      } catch {
        return [];
      }
    });
    if (entries.length) onLines(entries);
  }
}

function parseMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : undefined;
  } catch {
    return undefined;
  }
}
