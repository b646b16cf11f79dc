/** Incidents (issue 11 part 5): severities, post-mortems, security notice deadlines, the timeline. */
export { IncidentService } from './service.ts';
export type {
  IncidentDetail,
  IncidentSettings,
  IncidentView,
  OpenIncidentInput,
  StatusPost,
  UpdateIncidentInput,
} from './views.ts';
export { NoticePass } from './notice-pass.ts';
export { incidentSorts, incidentStatuses, type IncidentSort, type IncidentStatus } from './store.ts';
export { describeSeverities, severityRules, needsPostmortem, type SeverityRule } from './severity.ts';
export { parsePostmortem, postmortemExample, type Postmortem } from './postmortem.ts';
export { dueNotices, noticeDeadlines, noticeParties, type Deadline, type NoticeParty } from './notices.ts';
export type { TimelineEntry } from './timeline.ts';
