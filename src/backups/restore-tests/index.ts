/** Restore tests: the jobs, their schedule, the fingerprints they compare and their evidence. */
export {
  RestoreTestService,
  restoreTestJobKind,
  restoreTestScheduleJobKind,
  restoreTestScheduleKey,
} from './service.ts';
export { RestoreTestFingerprints, type TestFingerprint } from './fingerprints.ts';
export {
  testView,
  type AppVerification,
  type RestoreTestVerification,
  type RestoreTestView,
  type SchedulePassResult,
} from './views.ts';
