export { StageSandbox, hostLayout, type SandboxSettings, type SandboxedCommand } from './driver.ts';
export {
  bwrapArgs,
  bwrapInvocation,
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
  type SandboxInvocation,
} from './plan.ts';
