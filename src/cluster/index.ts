export { Elector, type SingletonLoop } from './elector.ts';
export { LeaseStore, type LeaseHolder, type LeaseTerm, type LeaseView } from './leases.ts';
export {
  NodeDirectory,
  NodeMembership,
  defaultNodeName,
  type ControlMemberRoles,
  type NodeHealth,
  type NodeView,
} from './nodes.ts';
export { healOnHolder, operationsLease, operationsLoops } from './singletons.ts';
