import { InputError, showValue } from '../core/errors.ts';
import { ownerProblem } from './postmortem.ts';
import { severityLevels } from './severity.ts';
import { incidentStatuses, type IncidentStatus } from './store.ts';

/** The incident service's input checks: each refusal names the field, the value and what is accepted. */

export const maxNoteChars = 4000;
export function checkText(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not accepted; use 1 to ${max} characters`,
      { field },
    );
  }
  return value.trim();
}

export function checkId(field: string, id: unknown, what: string): string {
  if (typeof id !== 'string' || !/^\d{1,18}$/.test(id)) {
    throw new InputError(`field "${field}": ${showValue(id)} is not ${what} id; use its number, e.g. 7`, {
      field,
    });
  }
  return id;
}

export function checkSeverity(value: unknown): number {
  const n = typeof value === 'string' && /^\d$/.test(value) ? Number(value) : value;
  if (!severityLevels.includes(n as 1)) {
    throw new InputError(
      `field "severity": ${showValue(value)} is not accepted; use 1, 2, 3 or 4 ("steward incident severities" prints the rules)`,
      { field: 'severity' },
    );
  }
  return n as number;
}

export function checkStatus(value: unknown): IncidentStatus {
  if (!incidentStatuses.includes(value as IncidentStatus)) {
    throw new InputError(
      `field "status": ${showValue(value)} is not accepted; use one of ${incidentStatuses.join(', ')}`,
      { field: 'status' },
    );
  }
  return value as IncidentStatus;
}

export function checkOwner(value: unknown): string {
  const problem = typeof value === 'string' ? ownerProblem(value) : `${showValue(value)} is not a login`;
  if (problem) throw new InputError(`field "owner": ${problem}`, { field: 'owner' });
  return value as string;
}
