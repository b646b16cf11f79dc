/**
 * The appliance (issue 14 part 3): Steward on three nodes.
 *
 * Each node runs, in this order (launcher.ts, from `steward up` when its
 * steward.yaml has an `appliance:` block): an etcd member (the three form
 * one etcd), a Patroni member of the control database's cluster (scope
 * `steward-control`, synchronous: a committed job, check result or
 * notification survives the loss of the primary), a TCP router to the
 * primary (control-router.ts), and Steward itself with its control URL on
 * that router. The shared tier's stages live in the control database's
 * cluster, as with the embedded one, so they fail over with it.
 *
 * Stage instances: every node runs every stage's instances under its own
 * supervisor, and its own HAProxy routes to its local ones. Deploys and
 * migrations run once, as jobs through the queue (whichever node claims
 * them); each node's runtime pass then sees the active release and starts it
 * locally. Why: a node that dies takes only its own instances with it, the
 * others already serve (no rescheduling, no cross-node routing), and the
 * runtime, supervisor and data plane stay exactly as on one node. The cost
 * is three times the instances.
 *
 * What one machine hides: a release's files and a stage's files directory
 * live in the data dir of the node that built or made them, and the other
 * nodes use the same paths. On one machine (tests, a demo) that works; on
 * three machines the data dirs' releases/ and files/ need shared storage
 * (NFS), which is not done here. On one machine each node also needs a uid
 * range of its own (runtime.uidBase): the nftables rules of each node judge
 * its own range.
 */
export {
  applianceSchema,
  checkAppliance,
  controlScope,
  nodeConfig,
  type ApplianceNode,
  type ApplianceSettings,
} from './config.ts';
export { initApplianceSecrets, launchNode, type LaunchedNode } from './launcher.ts';
export { controlRoute } from './plan.ts';
export { controlMemberRoles } from './members.ts';
export { killNode, nodeProcesses } from './node-kill.ts';
export { apiUrl, runNodeLossDrill, serves, type NodeLossResult } from './node-loss.ts';
export { nodeLossResultSchema, nodeLossVerdict, recordNodeLoss } from './evidence.ts';
