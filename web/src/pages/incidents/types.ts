import type { paths } from '../../../../src/api/client/schema.ts';
import type { ResponseBody } from '../../../../src/api/client/typed.ts';

/** What the incidents API returns: the types generated from its contracts (src/api/contracts/). */
export type IncidentDetail = ResponseBody<paths, '/api/v1/incidents/{id}'>;
export type IncidentRow = Omit<IncidentDetail, 'timeline'>;
export type TimelineEntry = IncidentDetail['timeline'][number];
export type Deadline = IncidentRow['deadlines'][number];
export type Postmortem = NonNullable<IncidentRow['postmortem']>;
export type SeverityRule = ResponseBody<paths, '/api/v1/incidents/severities'>['severities'][number];

export const incidentStatuses = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export const severityLevels = [1, 2, 3, 4] as const;

/** An incident's shown state: closed once closed, else its status. */
export const stateOf = (i: Pick<IncidentRow, 'status' | 'closedAt'>): string =>
  i.closedAt ? 'closed' : i.status;
