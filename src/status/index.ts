/** The public status page (issue 11 part 6). */
export { StatusService, type StatusSettings } from './service.ts';
export {
  dayBars,
  currentState,
  aggregate,
  orderStages,
  type StatusPageModel,
  type Component,
} from './model.ts';
export { renderStatusPage } from './render.ts';
