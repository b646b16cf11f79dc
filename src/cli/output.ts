/** Tables for people, JSON for programs (-o json); html and pdf for reports (sla report). */
export type OutputFormat = 'table' | 'json' | 'html' | 'pdf';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function formatTable(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((row) =>
    row.map((cell) =>
      cell === null || cell === undefined
        ? '-'
        : typeof cell === 'object'
          ? JSON.stringify(cell)
          : String(cell as string),
    ),
  );
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: readonly string[]): string =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

export function printTable(columns: readonly string[], rows: readonly (readonly unknown[])[]): void {
  process.stdout.write(`${formatTable(columns, rows)}\n`);
}

/** Prints a progress line on stderr, only once an operation has taken longer than a second. */
export function progressReporter(enabled: boolean): { update(message: string): void; done(): void } {
  const started = Date.now();
  let last = '';
  let shown = false;
  const tty = process.stderr.isTTY;
  return {
    update(message) {
      if (!enabled || message === last || Date.now() - started < 1000) return;
      last = message;
      shown = true;
      if (tty) process.stderr.write(`\r\x1b[2K${message}`);
      else process.stderr.write(`${message}\n`);
    },
    done() {
      if (shown && tty) process.stderr.write('\n');
    },
  };
}

/** Sizes in binary units: 512 B, 1.5 KiB, 12.0 MiB, 2.0 GiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}
