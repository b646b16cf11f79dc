/** Checks and their results as time (issue 10 parts 1 and 2). */
export {
  CheckRunner,
  type CheckObserver,
  type CheckPassResult,
  type MonitoringSettings,
  type ProbeTiming,
} from './runner.ts';
export { CheckService, type CheckView } from './service.ts';
export { CheckStore } from './store.ts';
export { stewardTargets, type CheckTargets, type GatewayEndpoint } from './targets.ts';
export {
  addHttpCheckSchema,
  checkKinds,
  builtinChecks,
  type AddHttpCheckInput,
  type CheckKind,
} from './specs.ts';
export { checkStates, type CheckState, type ProbeResult } from './states.ts';
