/** Failover drills (issue 14 part 4): what others may use, the appliance's node-loss drill among them. */
export { DrillService, type DrillServiceOptions } from './service.ts';
export { DrillStore, type DrillResult, type DrillView, type NewDrill } from './store.ts';
export { WriteLoad, type LoadConnection, type WriteLoadOptions, type WriteLoadReport } from './write-load.ts';
export {
  lostCommits,
  longestGapMs,
  writesResumeMs,
  type LostCommits,
  type Outage,
  type Runs,
} from './measure.ts';
export {
  drillKinds,
  drillOutcomes,
  nextDrillStep,
  stageDrillKinds,
  type DrillKind,
  type DrillOutcome,
  type StageDrillKind,
} from './plan.ts';
export { drillDatabase, type HaCluster, type HaClusters } from './cluster.ts';
export { patroniCluster, type PatroniClusterOptions } from './patroni-cluster.ts';
