export {
  OnCallService,
  type ContactView,
  type OnCallView,
  type PolicyView,
  type ScheduleDetail,
  type ScheduleView,
} from './service.ts';
export { OnCallPager, builtinPolicy } from './pager.ts';
export { linkPath, type LinkPage } from './links.ts';
export type { ReactionReport, Stat } from './report.ts';
export type { PageView } from './store.ts';
