/** Steward watching itself (issue 10 part 9): a pure evaluator over measurements, and the driver that raises and clears alerts. */
export { Watchdog, type LoopPace, type WatchdogPassResult, type WatchdogSettings } from './watchdog.ts';
export {
  evaluate,
  watchdogConditions,
  type Finding,
  type Measurement,
  type WatchdogCondition,
  type WatchdogThresholds,
} from './evaluate.ts';
