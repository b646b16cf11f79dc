/** Steward's own metrics (issue 10 part 8): the registry /metrics serves, and what the DB says of Steward's backlog. */
export { StewardMetrics, checkStateValues, watchedLoops, type WatchedLoop } from './steward-metrics.ts';
export { readBacklog, readCheckStates, type Backlog, type JobKindBacklog } from './backlog.ts';
