import type { VerifyReport } from './service.ts';

/** `steward audit verify`'s verdict, as lines of text: what holds, then each problem and warning. */
export function describeVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  if (report.ok) {
    lines.push(`audit log intact: ${report.checked} events verified`);
  } else {
    lines.push(
      `AUDIT LOG TAMPERED: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`,
    );
    for (const problem of report.problems)
      lines.push(`  ${problem.kind} at event ${problem.seq}: ${problem.message}`);
  }
  if (report.legacy > 0) {
    lines.push(
      `${report.legacy} event${report.legacy === 1 ? '' : 's'} from before the database computed hashes: chained, but legacy, unauthenticated (no MAC)`,
    );
  }
  if (report.checkpoint) {
    lines.push(
      `newest signed checkpoint: event ${report.checkpoint.seq} at ${report.checkpoint.at} (${report.checkpoint.stores.join(', ')})`,
    );
  }
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  return `${lines.join('\n')}\n`;
}
