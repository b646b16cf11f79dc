export { StageSandbox, hostLayout, type SandboxSettings, type SandboxedCommand } from './driver.ts';
export {
  bwrapArgs,
  describeIsolation,
  isolationLevels,
  isolationReport,
  nftRuleset,
  tableName,
  type IsolationLevel,
  type IsolationProbe,
  type IsolationReport,
  type MountPlan,
  type NetworkPlan,
} from './plan.ts';
